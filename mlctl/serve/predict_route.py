"""POST /predict: JSON records in, labels (and class probabilities) out.

One function, ``answer``, turns a request body into the response. The app reaches it in one of two
ways: ``PredictEndpoint``, one ASGI call that ServeApp runs before its middleware stack and router (for
a model that scores in tens of microseconds, routing, dependency solving, Request objects and one
closure per middleware would otherwise cost more than the model), or the documented route of
``router`` once a middleware was added by whoever mounts the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlctl.onnxmodel.inputs import FIELD_REQUIRED
from mlctl.serve.context import Context, context
from mlctl.serve.limits import read_body
from mlctl.serve.middleware import RequestIds
from mlctl.serve.plain import Columns, plain_columns, to_feeds
from mlctl.serve.responses import dumps, parse_json
from mlctl.serve.schemas import PREDICT_OK, predict_body, responses
from mlctl.serve.scoring import InputError, extra_fields, short, validate_records
from mlctl.serve.state import Served

PATH = "/predict"
log = logging.getLogger("mlctl.serve")
INTERNAL = b'{"detail":"internal error (logged on the server)"}'
ANSWERED = "mlctl_answered"  # scope state: the version that answered (with a canary)


def _validate(
    served: Served, instances: object, unknown: str, max_rows: int, extra: str = "reject"
) -> tuple[Columns, dict | None]:
    """The model's inputs, and the raw values as sent (None when the inputs are exactly those)."""
    plain = plain_columns(served.plan, instances, max_rows)
    if plain is not None:  # the usual well-formed request: no validator, same inputs
        return plain, None
    checked, columns = validate_records(served, instances, unknown, max_rows, "instances", extra)
    return checked.feeds, columns


def _run(served: Served, instances: object, unknown: str, max_rows: int, extra: str):
    inputs, raw = _validate(served, instances, unknown, max_rows, extra)
    return inputs, raw, served.model.run(to_feeds(served.plan, [inputs]))


def _content_type(scope: dict) -> bytes:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return value.split(b";")[0].strip().lower()
    return b""


async def answer(ctx: Context, scope: dict, body: bytes) -> tuple[int, bytes]:
    """(status, JSON body) for a /predict request body."""
    served = ctx.pick(scope)  # read once: a reload (or a canary change) mid-request does not mix models
    ctype = _content_type(scope)
    if ctype and ctype != b"application/json" and not ctype.endswith(b"+json"):
        return 415, dumps(
            {"detail": f"unsupported content type {ctype[:64].decode('latin-1')!r}: use application/json"}
        )
    try:
        payload = parse_json(body)
    except ValueError as exc:
        return 400, dumps({"detail": str(exc)})
    if not isinstance(payload, dict) or "instances" not in payload:
        return 422, dumps({"detail": [{"loc": ["body", "instances"], "msg": FIELD_REQUIRED}]})
    instances = payload["instances"]
    n = len(instances) if isinstance(instances, list) else 0
    config = ctx.config
    extra = config.extra_fields
    try:
        if n > config.thread_rows:  # a big batch: validated and scored off the event loop
            inputs, raw, pred = await asyncio.to_thread(
                _run, served, instances, config.unknown_category, config.max_rows, extra
            )
            batched = False
        else:  # validated here, scored (and logged) with the other requests in flight
            inputs, raw = _validate(served, instances, config.unknown_category, config.max_rows, extra)
            pred = await ctx.batcher.score(served, inputs, n, ctx.note(scope, PATH, served, raw))
            batched = True
    except InputError as exc:
        return exc.status, dumps({"detail": exc.detail()})
    labels = pred.labels.tolist()
    probabilities = None if pred.probabilities is None else pred.probabilities.tolist()
    out: dict = {"predictions": labels}
    if served.class_keys is not None:
        keys = served.class_keys
        out["probabilities"] = (
            None if probabilities is None else [dict(zip(keys, p, strict=True)) for p in probabilities]
        )
    out["model_version"] = served.version
    if raw is not None and extra == "ignore":
        ignored = extra_fields(served, instances)
        if ignored:  # serve.extra_fields: ignore, and some were
            out["ignored_fields"] = [short(name) for name in ignored[:20]]
    if batched:
        ctx.count(PATH, served, labels)
    else:
        ctx.record(scope, PATH, served, inputs, raw, labels, probabilities)
    if ctx.state.canary is not None or served.role != "champion":
        scope.setdefault("state", {})[ANSWERED] = served.version
    return 200, dumps(out)


def version_header(scope: dict) -> list:
    """X-Model-Version when a canary is running: which version answered."""
    version = (scope.get("state") or {}).get(ANSWERED)
    return [] if version is None else [(b"x-model-version", version.encode())]


async def _respond(ctx: Context, scope: dict, body: bytes, send: Any, extra: list) -> int:
    try:
        status, out = await answer(ctx, scope, body)
    except Exception:  # never a traceback to the client
        log.exception("unhandled error on /predict")
        status, out = 500, INTERNAL
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode()), *extra]
    if status == 200 and ctx.state.canary is not None:
        headers += version_header(scope)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})
    return status


class _Route:
    path = PATH  # what the metrics middleware reads from scope["route"]


class PredictEndpoint:
    """All of POST /predict in one call: request id, body limit, answer, metrics.

    The same steps as ObserveMiddleware -> BodyLimitMiddleware -> route, without a
    closure per layer; the app calls it before its own stack (see ServeApp).
    """

    def __init__(self, ctx: Context, ids: RequestIds):
        self.ctx = ctx
        self.ids = ids
        self.route = _Route()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        start = time.perf_counter()
        header = self.ids.assign(scope, start)
        scope["route"] = self.route
        ctx = self.ctx
        status = 500
        try:
            body = await read_body(scope, receive, send, ctx.config.max_body_bytes, (header,))
            if type(body) is bytes:
                status = await _respond(ctx, scope, body, send, [header])
            elif body:  # refused (413); 0: the client went away, nothing was answered
                status = body
        finally:
            ctx.metrics.observe_request(PATH, "POST", status, time.perf_counter() - start)


def router(served: Served, unknown: str, max_rows: int, extra: str = "reject") -> APIRouter:
    """The documented /predict route: the same ``answer`` as PredictEndpoint, through the middleware stack.

    ServeApp answers POST /predict with PredictEndpoint before its stack; once someone adds a middleware
    (which must see every request) the shortcut is off and requests come here. Either way one function,
    ``answer``, decides the response, and this route's OpenAPI entry documents it.
    """
    api = APIRouter()

    @api.post(
        PATH,
        summary="Predict labels (and class probabilities) for 1 to max_rows instances",
        openapi_extra=predict_body(served.model.inputs, unknown, max_rows, extra),
        responses=responses(PREDICT_OK, codes=(400, 413, 415, 422)),
        tags=["predict"],
    )
    async def predict(request: Request) -> Response:
        ctx = context(request)
        try:
            status, body = await answer(ctx, request.scope, await request.body())
        except Exception:  # never a traceback to the client
            log.exception("unhandled error on /predict")
            status, body = 500, INTERNAL
        headers = dict(version_header(request.scope)) if status == 200 else {}
        return Response(
            body,
            status_code=status,
            media_type="application/json",
            headers={k.decode(): v.decode() for k, v in headers.items()},
        )

    return api
