"""POST /predict is answered ahead of FastAPI's stack (same ids, limits, metrics) unless a middleware is added."""

from __future__ import annotations

import json

import httpx
import pytest

from mlctl.serve import create_app
from tests.serve_helpers import ThreadServer, build_model, records, serve_config


class StampMiddleware:
    """A user's middleware: it must see /predict like every other route."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def stamped(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-stamp", b"1")]
            await send(message)

        await self.app(scope, receive, stamped)


@pytest.mark.slow
def test_direct_predict_keeps_ids_limits_and_metrics(tmp_path):
    built = build_model(tmp_path / "m", "classification")
    app = create_app(serve_config(built, tmp_path, log_dir=None, max_body_bytes=4096))
    assert app.direct is not None
    body = json.dumps({"instances": records(built["frame"], slice(0, 1))})
    with ThreadServer(app) as server:
        ok = httpx.post(server.url + "/predict", content=body, headers={"x-request-id": "direct-1"})
        big = httpx.post(server.url + "/predict", content=body + " " * 5000)
        bad = httpx.post(server.url + "/predict", content=b"{")
        metrics = httpx.get(server.url + "/metrics").text
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "direct-1"
    assert big.status_code == 413 and big.headers["x-request-id"] and big.headers["connection"] == "close"
    assert bad.status_code == 400 and "malformed JSON" in bad.json()["detail"]
    for status in (200, 413, 400):
        assert f'mlctl_http_requests_total{{endpoint="/predict",method="POST",status="{status}"}} 1' in metrics
    assert 'mlctl_http_request_duration_seconds_count{endpoint="/predict"} 3' in metrics


@pytest.mark.slow
def test_an_added_middleware_sees_predict(tmp_path):
    built = build_model(tmp_path / "m", "classification")
    app = create_app(serve_config(built, tmp_path, log_dir=None))
    app.add_middleware(StampMiddleware)
    assert app.direct is None
    body = json.dumps({"instances": records(built["frame"], slice(0, 2))})
    with ThreadServer(app) as server:
        r = httpx.post(server.url + "/predict", content=body, headers={"x-request-id": "stack-1"})
        health = httpx.get(server.url + "/health")
    assert r.status_code == 200 and len(r.json()["predictions"]) == 2
    assert r.headers["x-stamp"] == "1" and r.headers["x-request-id"] == "stack-1"
    assert health.headers["x-stamp"] == "1"
