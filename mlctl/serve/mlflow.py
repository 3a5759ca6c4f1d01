"""POST /invocations: the MLflow scoring protocol, so MLflow clients work unchanged.

JSON bodies carry exactly one of ``dataframe_split`` ({columns, data}),
``dataframe_records``, ``instances`` or ``inputs`` (records, or a dict of
columns), with NaN for a missing value as MLflow's client writes it;
``Content-Type: text/csv`` bodies have a header row; Parquet bodies
(``application/vnd.apache.parquet``) are a table. As MLflow's server does,
columns the model has no input for (ids, the label, a CSV index) are ignored,
with a warning in the log and their names in the ``X-Ignored-Fields`` header.
The answer is ``{"predictions": [...]}``; errors are ``{"error_code", "message", "detail"}``.
GET /ping and /version answer as MLflow's server does (its client waits on /ping).
"""

from __future__ import annotations

import csv
import io
import logging

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from mlctl import __version__
from mlctl.serve.context import context
from mlctl.serve.responses import dumps, json_response, parse_json
from mlctl.serve.schemas import invocations_body, responses, text
from mlctl.serve.scoring import (
    InputError,
    check_count,
    extra_fields,
    off_loop,
    parse_number,
    score,
    short,
    validate_columns,
    validate_records,
)
from mlctl.serve.state import Served

log = logging.getLogger("mlctl.serve")
CSV_TYPES = ("text/csv", "application/csv")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")
IGNORE = "ignore"  # MLflow's server ignores columns the model has no input for
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
    checked = validate_columns(served, columns, len(data), unknown, max_rows, where, IGNORE)
    return checked, columns


def _csv(served: Served, body: bytes, unknown: str, max_rows: int):
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError([(("csv",), "the CSV body is not UTF-8")], 400) from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # a NUL byte, an unterminated quote...
        raise InputError([(("csv",), f"malformed CSV: {short(exc)}")], 400) from None
    if not rows:
        raise InputError([(("csv",), "empty CSV: expected a header row and data rows")], 400)
    header, data = rows[0], [r for r in rows[1:] if r]
    dupes = sorted({short(h) for h in header if header.count(h) > 1})
    if dupes:
        raise InputError([(("csv", "header"), f"duplicate column names: {dupes[:8]}")], 400)
    bad = [
        (("csv", "row", i + 1), f"expected {len(header)} fields") for i, r in enumerate(data) if len(r) != len(header)
    ]
    if bad:
        raise InputError(bad, 400)
    columns = {}
    for j, name in enumerate(header):
        numeric = served.kinds.get(name) == "numeric"
        columns[name] = [parse_number(r[j]) if numeric else (r[j] or None) for r in data]
    checked = validate_columns(served, columns, len(data), unknown, max_rows, "csv", IGNORE)
    return checked, columns


def _parquet(served: Served, body: bytes, unknown: str, max_rows: int):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(body))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError([(("parquet",), f"not a readable Parquet file: {short(exc)}")], 400) from None
    check_count(table.num_rows, max_rows, "parquet")  # before any column becomes Python values
    names = table.column_names
    if len(set(names)) != len(names):
        raise InputError([(("parquet",), "duplicate column names")], 400)
    columns = {name: table.column(name).to_pylist() for name in names if name in served.name_set}
    columns.update({name: [] for name in names if name not in served.name_set})  # reported, then dropped
    checked = validate_columns(served, columns, table.num_rows, unknown, max_rows, "parquet", IGNORE)
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
        return validate_columns(served, value, n, unknown, max_rows, key, IGNORE), value
    checked, columns = validate_records(served, value, unknown, max_rows, key, IGNORE)
    columns.update({name: [] for name in extra_fields(served, value)})  # reported, not logged
    return checked, columns


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

    @api.get("/ping", summary="MLflow health check: 200 once the model is ready", tags=["mlflow"])
    async def ping(request: Request) -> Response:
        ok = context(request).state.ready
        return json_response({"status": "ready" if ok else "not ready"}, 200 if ok else 503)

    @api.get(
        "/version",
        summary="MLflow version check: the server's version",
        tags=["mlflow"],
        responses=text("version"),
        response_class=PlainTextResponse,
    )
    async def version() -> Response:
        return Response(__version__, media_type="text/plain")

    @api.post(
        "/invocations",
        summary="Score rows with the MLflow scoring protocol (JSON formats, text/csv or Parquet)",
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
        if ctype in CSV_TYPES:
            parse, first, payload = _csv, body, None
        elif ctype in PARQUET_TYPES:
            parse, first, payload = _parquet, body, None
        elif ctype == "application/json" or ctype.endswith("+json"):
            try:
                payload = parse_json(body, allow_nan=True)
            except ValueError as exc:
                return _error(400, str(exc))
            parse, first = _json, payload
        else:
            return _error(415, f"unsupported content type {short(ctype)!r}: use application/json, text/csv or Parquet")
        try:
            checked, columns, pred = await off_loop(
                _rows(body, payload), ctx.config.thread_rows, _run, served, parse, first, *args
            )
        except InputError as exc:
            return _error(exc.status, exc.message(), exc.detail())
        labels = pred.labels.tolist()
        ignored = extra_fields(served, columns)
        if ignored:
            columns = {k: v for k, v in columns.items() if k in served.name_set}
        ctx.record(request.scope, "/invocations", served, checked.feeds, columns, labels, pred.probabilities)
        headers = None
        if ignored:
            names = "".join(c if c.isascii() and c.isprintable() else "?" for c in ",".join(map(short, ignored[:20])))
            log.warning("/invocations: ignored columns the model has no input for: %s", names)
            headers = {"X-Ignored-Fields": names}
        return Response(dumps({"predictions": labels}), media_type="application/json", headers=headers)

    return api
