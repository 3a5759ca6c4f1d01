"""The Open Inference Protocol (V2: KServe, Triton, MLServer), with the binary tensor data extension.

Two input layouts: one tensor per feature (name = feature, shape [N] or [N, 1];
numeric datatypes or BOOL for numeric features, BYTES for categorical ones), or
one [N, n_features] tensor with the columns in the model's input order (BYTES
when any feature is categorical: numbers are then parsed from the strings).
Outputs: ``label`` [N] (BYTES for string classes, INT64 for integer classes,
FP32 for regression) and, for classifiers, ``probabilities`` [N, n_classes] FP32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.responses import Response

from mlctl import __version__
from mlctl.serve.context import context
from mlctl.serve.responses import dumps, json_response, parse_json
from mlctl.serve.schemas import ERROR, responses, v2_infer_body
from mlctl.serve.scoring import InputError, off_loop, parse_number, score, validate_columns
from mlctl.serve.state import Served
from mlctl.serve.v2codec import TensorError, decode_tensors, encode_response, split_body

HEADER = "inference-header-content-length"
JSON_TYPES = ("application/json", "application/octet-stream")  # octet-stream: the binary tensor extension
NUMERIC = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64")


def _err(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


def _find(served: Served, name: str, version: str | None) -> Response | None:
    if name != served.name:
        return _err(f"unknown model {name[:64]!r}: this server serves {served.name!r}", 404)
    if version is not None and version != served.version:
        return _err(f"unknown version {version[:64]!r} of model {name!r}: serving {served.version!r}", 404)
    return None


def outputs_meta(served: Served) -> list[dict]:
    if served.task == "regression":
        return [{"name": "label", "datatype": "FP32", "shape": [-1]}]
    label_type = "INT64" if all(isinstance(c, int) for c in served.classes or []) else "BYTES"
    return [
        {"name": "label", "datatype": label_type, "shape": [-1]},
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(served.classes or [])]},
    ]


def model_metadata(served: Served) -> dict:
    return {
        "name": served.name,
        "versions": [served.version],
        "platform": "onnx",
        "inputs": [
            {"name": n, "datatype": "FP32" if served.kinds[n] == "numeric" else "BYTES", "shape": [-1, 1]}
            for n in served.names
        ],
        "outputs": outputs_meta(served),
    }


def to_columns(served: Served, tensors: list) -> tuple[dict, int]:
    """Feature columns from the decoded tensors (either layout)."""
    if len(tensors) == 1 and tensors[0][0] not in served.name_set and len(served.names) > 1:
        name, datatype, shape, values = tensors[0]
        if len(shape) != 2 or shape[1] != len(served.names):
            raise TensorError(f"input {name!r}: expected one tensor per feature or shape [N, {len(served.names)}]")
        flat = values.tolist() if isinstance(values, np.ndarray) else values
        k = shape[1]
        columns = {}
        for j, feature in enumerate(served.names):
            col = flat[j::k]
            if served.kinds[feature] == "numeric" and datatype == "BYTES":
                col = [parse_number(v) for v in col]
            columns[feature] = col
        return columns, shape[0]
    columns, n = {}, None
    for name, datatype, shape, values in tensors:
        if name in columns:
            raise TensorError(f"input {name!r} given twice")
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise TensorError(f"input {name!r}: shape must be [N] or [N, 1], got {shape}")
        if n is not None and shape[0] != n:
            raise TensorError(f"input {name!r} has {shape[0]} rows, other inputs have {n}")
        n = shape[0]
        kind = served.kinds.get(name)
        if kind == "numeric" and datatype not in NUMERIC:
            raise TensorError(
                f"input {name!r}: expected a numeric datatype (FP32, FP64, INT64, BOOL...), got {datatype}"
            )
        if kind == "categorical" and isinstance(values, np.ndarray):
            values = values.tolist()
        columns[name] = values
    return columns, n or 0


def _run(served: Served, header: dict, binary: bytes, unknown: str, max_rows: int):
    columns, n = to_columns(served, decode_tensors(header, binary))
    checked = validate_columns(served, columns, n, unknown, max_rows, "inputs")
    return checked, columns, score(served, checked)


def _requested(header: dict, metas: list[dict]) -> list[tuple[dict, bool]]:
    """Which outputs to return, and whether each is binary."""
    params = header.get("parameters") or {}
    all_binary = bool(params.get("binary_data_output", False)) if isinstance(params, dict) else False
    wanted = header.get("outputs")
    if wanted is None:
        return [(m, all_binary) for m in metas]
    if not isinstance(wanted, list):
        raise TensorError("'outputs' must be a list of {name, parameters}")
    by_name = {m["name"]: m for m in metas}
    out = []
    for w in wanted:
        if not isinstance(w, dict) or not isinstance(w.get("name"), str) or w["name"] not in by_name:
            raise TensorError(f"unknown output {str(w)[:64]}: the model has {list(by_name)}")
        p = w.get("parameters") or {}
        out.append((by_name[w["name"]], bool(p.get("binary_data", all_binary)) if isinstance(p, dict) else all_binary))
    return out


def router(served: Served, unknown: str, max_rows: int) -> APIRouter:
    api = APIRouter(prefix="/v2", tags=["v2"])
    err = responses(None, ERROR, (400, 404, 413, 415))

    @api.get("", summary="Server metadata")
    async def server_metadata() -> Response:
        return json_response({"name": "mlctl", "version": __version__, "extensions": ["binary_tensor_data"]})

    @api.get("/health/live", summary="Liveness")
    async def live() -> Response:
        return json_response({"live": True})

    @api.get("/health/ready", summary="Readiness")
    async def ready(request: Request) -> Response:
        ok = context(request).state.ready
        return json_response({"ready": ok}, 200 if ok else 503)

    async def metadata(request: Request, model_name: str, version: str | None = None) -> Response:
        served = context(request).state.served
        return _find(served, model_name, version) or json_response(model_metadata(served))

    async def model_ready(request: Request, model_name: str, version: str | None = None) -> Response:
        state = context(request).state
        missing = _find(state.served, model_name, version)
        if missing:
            return missing
        return json_response({"name": model_name, "ready": state.ready}, 200 if state.ready else 503)

    async def infer(request: Request, model_name: str, version: str | None = None) -> Response:
        ctx = context(request)
        served = ctx.state.served
        missing = _find(served, model_name, version)
        if missing:
            return missing
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype not in JSON_TYPES and not ctype.endswith("+json"):
            return _err(
                f"unsupported content type {ctype[:64]!r}: use application/json or application/octet-stream", 415
            )
        body = await request.body()
        try:
            head, binary = split_body(body, request.headers.get(HEADER))
            header = parse_json(head, allow_nan=True)  # tritonclient writes a missing FP32 as NaN
            if not isinstance(header, dict):
                raise TensorError("the request must be a JSON object with 'inputs'")
            wanted = _requested(header, outputs_meta(served))
            n = _first_dim(header)
            checked, columns, pred = await off_loop(
                n,
                ctx.config.thread_rows,
                _run,
                served,
                header,
                binary,
                ctx.config.unknown_category,
                ctx.config.max_rows,
            )
        except InputError as exc:
            return _err(exc.message(), 413 if exc.status == 413 else 400)
        except ValueError as exc:  # TensorError and malformed JSON
            return _err(str(exc))
        labels = pred.labels.tolist()
        ctx.record(request.scope, "/v2/infer", served, checked.feeds, columns, labels, pred.probabilities)
        values = {"label": pred.labels, "probabilities": pred.probabilities}
        rows = len(labels)
        outputs = []
        for meta, binary_out in wanted:
            shape = [rows] if meta["name"] == "label" else [rows, len(served.classes or [])]
            outputs.append(
                ({"name": meta["name"], "datatype": meta["datatype"], "shape": shape}, values[meta["name"]], binary_out)
            )
        resp: dict[str, Any] = {"model_name": served.name, "model_version": served.version}
        if isinstance(header.get("id"), str):
            resp["id"] = header["id"][:128]
        resp, raw = encode_response(resp, outputs)
        if not raw:
            return Response(dumps(resp), media_type="application/json")
        head_bytes = dumps(resp)
        return Response(
            head_bytes + raw,
            media_type="application/octet-stream",
            headers={"Inference-Header-Content-Length": str(len(head_bytes))},
        )

    names = [m["name"] for m in outputs_meta(served)]
    infer_doc = {"openapi_extra": v2_infer_body(served.model.inputs, names), "responses": err}
    for suffix in ("", "/versions/{version}"):
        base = "/models/{model_name}" + suffix
        api.add_api_route(base, metadata, methods=["GET"], summary="Model metadata", responses=err)
        api.add_api_route(base + "/ready", model_ready, methods=["GET"], summary="Model readiness", responses=err)
        api.add_api_route(base + "/infer", infer, methods=["POST"], summary="Inference", **infer_doc)
    return api


def _first_dim(header: dict) -> int:
    inputs = header.get("inputs")
    for t in inputs if isinstance(inputs, list) else []:
        shape = t.get("shape") if isinstance(t, dict) else None
        if isinstance(shape, list) and shape and isinstance(shape[0], int):
            return shape[0]
    return 0
