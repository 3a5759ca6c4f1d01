"""A pure ASGI middleware for request ids (X-Request-ID) and per-endpoint metrics."""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

from mlctl.serve.prometheus import Metrics

MAX_ID = 128


class RequestIds:
    """Accept a client's X-Request-ID or make a unique one; shared by the middleware and /predict."""

    def __init__(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count()

    def assign(self, scope: dict, start: float) -> tuple[bytes, bytes]:
        """Put the id and start time in ``scope["state"]``; returns the response header."""
        request_id = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                # accept a client's id, but only a short printable one (it ends up in logs)
                if 0 < len(value) <= MAX_ID and value.isascii() and value.decode().isprintable():
                    request_id = value.decode()
                break
        if request_id is None:  # unique: random per process, then counted (uuid4 costs 3 µs a request)
            request_id = f"{self.prefix}{next(self.counter):016x}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["start"] = start
        return (b"x-request-id", request_id.encode())


class ObserveMiddleware:
    """Assign or accept a request id, echo it in the response, count and time the request."""

    def __init__(self, app: Any, metrics: Metrics, ids: RequestIds | None = None):
        self.app = app
        self.metrics = metrics
        self.ids = ids or RequestIds()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        header = self.ids.assign(scope, start)
        status = 500

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"  # route templates: bounded label values
            self.metrics.observe_request(endpoint, scope["method"], status, time.perf_counter() - start)
