"""A pure ASGI middleware that refuses request bodies over a byte limit before any route parses them.

FastAPI has no body limit of its own. The Content-Length header is checked
first; bodies without one (chunked transfer encoding) are counted as they
arrive and refused as soon as they pass the limit, so a client cannot make
the server buffer more than the limit. ``Content-Encoding: gzip`` or ``deflate``
bodies are decoded here, the decoded size counting against the same limit; other
encodings are refused (415). Error bodies take each protocol's shape.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

Scope = dict[str, Any]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyLimitMiddleware:
    """Buffer each request body up to ``max_bytes``; answer 413 (and close) beyond it."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        body = await read_body(scope, receive, send, self.max_bytes)
        if not isinstance(body, bytes):  # refused, or the client went away
            return
        if any(k == b"content-encoding" for k, _ in scope["headers"]):  # decoded: the routes see plain bytes
            scope["headers"] = [
                (k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")
            ]
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def read_body(
    scope: Scope, receive: Any, send: Any, max_bytes: int, headers: Sequence[tuple[bytes, bytes]] = ()
) -> bytes | int:
    """The whole body; else the status already answered (413, with ``headers`` added), or 0 if the client left."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = -1
            if declared > max_bytes:
                return await refuse(send, declared, max_bytes, headers, scope)
            break
    encoding = b""
    for key, value in scope["headers"]:
        if key == b"content-encoding":
            encoding = value.strip().lower()
    if encoding not in (b"", b"identity", b"gzip", b"x-gzip", b"deflate"):
        return await refuse(
            send, 0, max_bytes, headers, scope, 415, "unsupported Content-Encoding: use gzip or deflate"
        )
    body = await _raw_body(scope, receive, send, max_bytes, headers)
    if encoding in (b"", b"identity") or not isinstance(body, bytes):
        return body
    return await _decode(scope, send, body, encoding, max_bytes, headers)


async def _decode(
    scope: Scope, send: Any, body: bytes, encoding: bytes, max_bytes: int, headers: Sequence
) -> bytes | int:
    """A gzip or deflate body, decoded to at most ``max_bytes`` (zlib or raw deflate, as browsers send)."""
    if encoding == b"deflate" and body[:1] != b"\x78":
        decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib header
    else:
        decoder = zlib.decompressobj(zlib.MAX_WBITS | (16 if encoding != b"deflate" else 0))
    try:
        out = decoder.decompress(body, max_bytes + 1)
        if len(out) <= max_bytes and not decoder.eof:
            out += decoder.flush()
    except zlib.error:
        return await refuse(send, 0, max_bytes, headers, scope, 400, f"the body is not valid {encoding.decode()} data")
    if len(out) > max_bytes or decoder.unconsumed_tail:
        return await refuse(send, len(out), max_bytes, headers, scope)
    if not decoder.eof:
        return await refuse(send, 0, max_bytes, headers, scope, 400, f"truncated {encoding.decode()} body")
    return out


async def _raw_body(scope: Scope, receive: Any, send: Any, max_bytes: int, headers: Sequence) -> bytes | int:
    message = await receive()
    if message["type"] != "http.request":  # the client went away
        return 0
    body = message.get("body", b"")
    if not message.get("more_body", False) and len(body) <= max_bytes:
        return body  # the usual case: one message
    chunks = [body]
    size = len(body)
    while True:
        if size > max_bytes:
            return await refuse(send, size, max_bytes, headers, scope)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()
        if message["type"] != "http.request":
            return 0
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)


async def refuse(
    send: Any,
    size: int,
    max_bytes: int,
    headers: Sequence[tuple[bytes, bytes]] = (),
    scope: Scope | None = None,
    status: int = 413,
    detail: str | None = None,
) -> int:
    """Answer ``status`` (413: the body is over the limit) and close the connection."""
    detail = detail or f"request body too large: over the limit of {max_bytes} bytes (serve.max_body_bytes)"
    body = error_body(scope["path"] if scope else "", status, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            # close: the rest of a refused body is not worth reading
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return status


def error_body(path: str, status: int, message: str) -> bytes:
    """An error shaped as the route's protocol has it: V2 ``error``, MLflow ``error_code``, else ``detail``."""
    if path.startswith("/v2"):
        return json.dumps({"error": message}).encode()
    if path == "/invocations":
        code = "MALFORMED_REQUEST" if status == 400 else "BAD_REQUEST"
        return json.dumps({"error_code": code, "message": message}).encode()
    return json.dumps({"detail": message}).encode()
