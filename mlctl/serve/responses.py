"""Fast JSON in and out of the routes (orjson when installed) and the shared response helpers."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from mlctl.serve.scoring import short

try:  # orjson is several times faster than json for both directions; json is the fallback
    import orjson

    def loads(data: bytes) -> Any:
        return orjson.loads(data)

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)

except ImportError:  # pragma: no cover - orjson is optional

    def loads(data: bytes) -> Any:
        return json.loads(data, parse_constant=_no_constant)

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_response(obj: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json", headers=headers)


def parse_json(data: bytes, allow_nan: bool = False) -> Any:
    """JSON from a request body; ValueError with a short reason if malformed.

    ``allow_nan``: also the NaN/Infinity tokens that Python's json module writes
    (MLflow's client sends a missing value of a DataFrame as NaN).
    """
    if not data:
        raise ValueError("empty request body: expected JSON")
    try:
        return loads(data)
    except (ValueError, RecursionError) as exc:
        if allow_nan:
            try:
                return json.loads(data)
            except (ValueError, RecursionError):
                pass
        raise ValueError(f"malformed JSON: {short(exc)}") from None
