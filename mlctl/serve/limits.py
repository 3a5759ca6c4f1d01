"""A pure ASGI middleware that refuses request bodies over a byte limit before any route parses them.

FastAPI has no body limit of its own. The Content-Length header is checked
first; bodies without one (chunked transfer encoding) are counted as they
arrive and refused as soon as they pass the limit, so a client cannot make
the server buffer more than the limit.
"""

from __future__ import annotations

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
                return await refuse(send, declared, max_bytes, headers)
            break
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
            return await refuse(send, size, max_bytes, headers)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()
        if message["type"] != "http.request":
            return 0
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)


async def refuse(send: Any, size: int, max_bytes: int, headers: Sequence[tuple[bytes, bytes]] = ()) -> int:
    """Answer 413 and close the connection."""
    detail = f"request body too large: over the limit of {max_bytes} bytes (serve.max_body_bytes)"
    body = ('{"detail": "' + detail + '"}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            # close: the rest of an oversized body is not worth reading
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
    return 413
