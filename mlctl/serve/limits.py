"""A pure ASGI middleware that refuses request bodies over a byte limit before any route parses them.

FastAPI has no body limit of its own. The Content-Length header is checked
first; bodies without one (chunked transfer encoding) are counted as they
arrive and refused as soon as they pass the limit, so a client cannot make
the server buffer more than the limit.
"""

from __future__ import annotations

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
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._refuse(send, declared)
                    return
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, size: int) -> None:
        detail = f"request body too large: over the limit of {self.max_bytes} bytes (serve.max_body_bytes)"
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
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
