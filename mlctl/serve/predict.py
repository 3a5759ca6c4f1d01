"""POST /predict: JSON records in, labels (and class probabilities) out.

The route is documented through FastAPI (OpenAPI schema and example from the
model's inputs), but requests are answered by ``PredictFastPath``, a pure ASGI
layer in front of FastAPI's router: for a sub-millisecond model, routing,
dependency solving and Request objects would otherwise cost more than the model.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlctl.serve.context import Context, context
from mlctl.serve.http import dumps, parse_json
from mlctl.serve.schemas import PREDICT_OK, predict_body, responses
from mlctl.serve.scoring import InputError, off_loop, probabilities_list, score, validate_records
from mlctl.serve.state import Served

PATH = "/predict"
log = logging.getLogger("mlctl.serve")


def _run(served: Served, instances: object, unknown: str, max_rows: int):
    checked, columns = validate_records(served, instances, unknown, max_rows, "instances")
    return checked, columns, score(served, checked)


async def answer(ctx: Context, scope: dict, body: bytes) -> tuple[int, bytes]:
    """(status, JSON body) for a /predict request body."""
    served = ctx.state.served  # read once: a reload mid-request does not mix models
    try:
        payload = parse_json(body)
    except ValueError as exc:
        return 400, dumps({"detail": str(exc)})
    if not isinstance(payload, dict) or "instances" not in payload:
        return 422, dumps({"detail": [{"loc": ["body", "instances"], "msg": "field required"}]})
    instances = payload["instances"]
    n = len(instances) if isinstance(instances, list) else 0
    config = ctx.config
    try:
        checked, columns, pred = await off_loop(
            n, config.thread_rows, _run, served, instances, config.unknown_category, config.max_rows
        )
    except InputError as exc:
        return exc.status, dumps({"detail": exc.detail()})
    labels = pred.labels.tolist()
    out: dict = {"predictions": labels}
    if served.class_keys is not None:
        out["probabilities"] = probabilities_list(served, pred)
    out["model_version"] = served.version
    ctx.record(scope, PATH, served, checked, columns, pred, labels)
    return 200, dumps(out)


class _Route:
    path = PATH  # what the metrics middleware reads from scope["route"]


class PredictFastPath:
    """Answer POST /predict directly; everything else goes on to FastAPI."""

    def __init__(self, app: Any, ctx: Context):
        self.app = app
        self.ctx = ctx
        self.route = _Route()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        chunks, more = [], True
        while more:  # behind BodyLimitMiddleware this is a single, already buffered message
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        try:
            status, body = await answer(self.ctx, scope, b"".join(chunks))
        except Exception:  # never a traceback to the client
            log.exception("unhandled error on /predict")
            status, body = 500, b'{"detail":"internal error (logged on the server)"}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def router(served: Served, unknown: str, max_rows: int) -> APIRouter:
    """The documented /predict route (reached only when the app runs without its fast path)."""
    api = APIRouter()

    @api.post(
        PATH,
        summary="Predict labels (and class probabilities) for 1 to max_rows instances",
        openapi_extra=predict_body(served.model.inputs, unknown, max_rows),
        responses=responses(PREDICT_OK),
        tags=["predict"],
    )
    async def predict(request: Request) -> Response:
        status, body = await answer(context(request), request.scope, await request.body())
        return Response(body, status_code=status, media_type="application/json")

    return api
