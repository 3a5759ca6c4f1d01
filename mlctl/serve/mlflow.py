"""POST /invocations: the MLflow scoring protocol, so MLflow clients work unchanged.

JSON bodies carry exactly one of ``dataframe_split`` ({columns, data}),
``dataframe_records``, ``instances`` or ``inputs`` (records, or a dict of
columns); ``Content-Type: text/csv`` bodies have a header row. The answer is
``{"predictions": [...]}``; errors are ``{"error_code", "message", "detail"}``.
"""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request
from starlette.responses import Response

from mlctl.serve.context import context
from mlctl.serve.responses import dumps, json_response, parse_json
from mlctl.serve.schemas import invocations_body, responses
from mlctl.serve.scoring import (
    InputError,
    off_loop,
    parse_number,
    score,
    short,
    validate_columns,
    validate_records,
)
from mlctl.serve.state import Served

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
ERROR = {"type": "object", "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}}}


def _error(status: int, message: str, detail: list | None = None) -> Response:
    code = "MALFORMED_REQUEST" if status == 400 else "BAD_REQUEST"
    body: dict = {"error_code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return json_response(body, status)


def _split(served: Served, split: object, unknown: str, max_rows: int):
    where = "dataframe_split"
    if (
        not isinstance(split, dict)
        or not isinstance(split.get("columns"), list)
        or not isinstance(split.get("data"), list)
    ):
        raise InputError([((where,), 'expected {"columns": [...], "data": [[...], ...]}')])
    names, data = split["columns"], split["data"]
    if len(set(map(str, names))) != len(names) or not all(isinstance(c, str) for c in names):
        raise InputError([((where, "columns"), "column names must be unique strings")])
    bad = [
        ((where, "data", i), f"expected a list of {len(names)} values")
        for i, row in enumerate(data)
        if not isinstance(row, list) or len(row) != len(names)
    ]
    if bad:
        raise InputError(bad)
    columns = {name: [row[j] for row in data] for j, name in enumerate(names)}
    checked = validate_columns(served, columns, len(data), unknown, max_rows, where)
    return checked, columns


def _csv(served: Served, body: bytes, unknown: str, max_rows: int):
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError([(("csv",), "the CSV body is not UTF-8")], 400) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise InputError([(("csv",), "empty CSV: expected a header row and data rows")], 400)
    header, data = rows[0], [r for r in rows[1:] if r]
    bad = [
        (("csv", "row", i + 1), f"expected {len(header)} fields") for i, r in enumerate(data) if len(r) != len(header)
    ]
    if bad:
        raise InputError(bad, 400)
    columns = {}
    for j, name in enumerate(header):
        numeric = served.kinds.get(name) == "numeric"
        columns[name] = [parse_number(r[j]) if numeric else (r[j] or None) for r in data]
    checked = validate_columns(served, columns, len(data), unknown, max_rows, "csv")
    return checked, columns


def _json(served: Served, payload: object, unknown: str, max_rows: int):
    if not isinstance(payload, dict):
        raise InputError([(("body",), f"expected a JSON object with one of {list(FORMATS)}")])
    present = [k for k in FORMATS if k in payload]
    if len(present) != 1:
        raise InputError(
            [(("body",), f"expected exactly one of {list(FORMATS)}, got {[short(k) for k in payload][:8]}")]
        )
    key = present[0]
    value = payload[key]
    if key == "dataframe_split":
        return _split(served, value, unknown, max_rows)
    if key in ("instances", "inputs") and isinstance(value, dict):  # columnar: {feature: [values]}
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) != len(value) or len({len(v) for v in lists}) > 1:
            raise InputError([((key,), "expected {feature: [values]} with equally long lists")])
        n = len(lists[0]) if lists else 0
        return validate_columns(served, value, n, unknown, max_rows, key), value
    return validate_records(served, value, unknown, max_rows, key)


def _run(served: Served, parse, *args):
    checked, columns = parse(served, *args)
    return checked, columns, score(served, checked)


def _rows(body: bytes, payload: object) -> int:
    """A cheap row estimate to decide whether to score off the event loop."""
    if payload is None:
        return body.count(b"\n")
    if isinstance(payload, dict):
        for key in FORMATS:
            v = payload.get(key)
            if isinstance(v, dict):
                v = v.get("data", next(iter(v.values()), None))
            if isinstance(v, list):
                return len(v)
    return 0


def router(served: Served, unknown: str, max_rows: int) -> APIRouter:
    api = APIRouter()

    @api.post(
        "/invocations",
        summary="Score rows with the MLflow scoring protocol (JSON formats or text/csv)",
        openapi_extra=invocations_body(served.model.inputs, unknown, max_rows),
        responses=responses(
            {"type": "object", "properties": {"predictions": {"type": "array"}}}, ERROR, (400, 413, 415, 422)
        ),
        tags=["mlflow"],
    )
    async def invocations(request: Request) -> Response:
        ctx = context(request)
        served = ctx.state.served
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        body = await request.body()
        args = (ctx.config.unknown_category, ctx.config.max_rows)
        if ctype in ("text/csv", "application/csv"):
            parse, first, payload = _csv, body, None
        elif ctype == "application/json" or ctype.endswith("+json"):
            try:
                payload = parse_json(body)
            except ValueError as exc:
                return _error(400, str(exc))
            parse, first = _json, payload
        else:
            return _error(415, f"unsupported content type {short(ctype)!r}: use application/json or text/csv")
        try:
            checked, columns, pred = await off_loop(
                _rows(body, payload), ctx.config.thread_rows, _run, served, parse, first, *args
            )
        except InputError as exc:
            return _error(exc.status, exc.message(), exc.detail())
        labels = pred.labels.tolist()
        ctx.record(request.scope, "/invocations", served, checked.feeds, columns, labels, pred.probabilities)
        return Response(dumps({"predictions": labels}), media_type="application/json")

    return api
