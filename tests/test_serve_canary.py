"""`mlctl serve --canary`: a share of clients answered by a candidate, sticky, labelled, changed at run time."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import make_frame
from tests.serve_helpers import ThreadServer, build_model, records, serve_config
from tests.test_serve_shadow import metric, offline, read_log

pytestmark = pytest.mark.slow

TOKEN = "canary-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("canary")
    champion = build_model(tmp / "champion", seed=0)
    canary = build_model(tmp / "canary", estimator="logistic_regression", seed=1, name="canary")
    recs = records(make_frame("classification", n=50, seed=9).drop(columns=["signup"]), slice(0, 50))
    return {"champion": champion, "canary": canary, "recs": recs}


def app_for(models, tmp, share: float):
    from mlctl.serve import create_app

    canary = models["canary"]
    config = serve_config(
        models["champion"],
        tmp,
        canary_model_path=str(canary["model"]),
        canary_manifest_path=str(canary["manifest_path"]),
        canary_share=share,
    )
    return create_app(config)


def within(k: int, n: int, p: float, sds: float = 4.0) -> bool:
    return abs(k - n * p) <= sds * math.sqrt(n * p * (1 - p))


def test_share_is_respected_sticky_per_client_and_labelled_by_version(models, tmp_path):
    champ_v, canary_v = models["champion"]["manifest"]["version"], models["canary"]["manifest"]["version"]
    recs = models["recs"]
    expected = {champ_v: offline(models["champion"], recs), canary_v: offline(models["canary"], recs)}
    versions: dict[str, str] = {}
    with ThreadServer(app_for(models, tmp_path, 0.1)) as server, httpx.Client(base_url=server.url) as client:
        for i in range(2000):  # 2,000 clients, one request each
            j = i % len(recs)
            r = client.post(
                "/predict", json={"instances": [recs[j]]}, headers={"X-Client-ID": f"c-{i}", "X-Request-ID": f"q-{i}"}
            )
            assert r.status_code == 200
            body = r.json()
            assert r.headers["x-model-version"] == body["model_version"]
            assert str(body["predictions"][0]) == expected[body["model_version"]][j]  # the version that answered
            versions[f"q-{i}"] = body["model_version"]
        canaried = sum(v == canary_v for v in versions.values())
        assert within(canaried, 2000, 0.1), canaried
        # sticky: 40 clients, 10 requests each, always the same model
        seen: dict[str, set] = {}
        for _ in range(10):
            for c in range(40):
                r = client.post("/predict", json={"instances": [recs[c]]}, headers={"X-Client-ID": f"sticky-{c}"})
                seen.setdefault(f"sticky-{c}", set()).add(r.json()["model_version"])
        assert all(len(v) == 1 for v in seen.values())
        # no header: each request drawn at random, at the share
        no_header = [
            client.post("/predict", json={"instances": [recs[0]]}).json()["model_version"] for _ in range(1000)
        ]
        assert within(sum(v == canary_v for v in no_header), 1000, 0.1)
        page = client.get("/metrics").text
    canary_rows = canaried + 10 * sum(v == {canary_v} for v in seen.values()) + sum(v == canary_v for v in no_header)
    assert metric(page, "mlctl_model_rows_total", version=canary_v, role="canary") == canary_rows
    assert metric(page, "mlctl_model_rows_total", version=champ_v, role="champion") == 2000 + 400 + 1000 - canary_rows
    assert metric(page, "mlctl_canary_share", version=canary_v) == 0.1
    log = read_log(tmp_path / "logs")
    logged = log[log["request_id"].str.startswith("q-")].set_index("request_id")
    assert len(logged) == 2000
    assert all(logged.loc[q, "model_version"] == v for q, v in versions.items())
    assert set(logged.loc[logged["model_version"] == canary_v, "role"]) == {"canary"}


def test_admin_canary_needs_the_token_and_changes_the_share(models, tmp_path, monkeypatch):
    monkeypatch.setenv("MLCTL_ADMIN_TOKEN", TOKEN)
    canary_v = models["canary"]["manifest"]["version"]
    with ThreadServer(app_for(models, tmp_path, 0.0)) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/admin/canary", json={"share": 1.0}).status_code == 401
        assert (
            client.post("/admin/canary", json={"share": 1.0}, headers={"Authorization": "Bearer no"}).status_code == 401
        )
        assert client.post("/admin/canary", json={"share": 2}, headers=AUTH).status_code == 422
        assert client.post("/admin/canary", json={"action": "explode"}, headers=AUTH).status_code == 422
        first = client.post("/predict", json={"instances": [models["recs"][0]]}, headers={"X-Client-ID": "a"})
        assert first.json()["model_version"] != canary_v  # share 0: nobody
        r = client.post("/admin/canary", json={"share": 1.0}, headers=AUTH)
        assert r.status_code == 200 and r.json()["share"] == 1.0 and r.json()["canary"] == canary_v
        again = client.post("/predict", json={"instances": [models["recs"][0]]}, headers={"X-Client-ID": "a"})
        assert again.json()["model_version"] == canary_v  # share 1: everybody
        assert client.get("/admin/canary", headers=AUTH).json()["share"] == 1.0


@pytest.mark.parametrize("action", ["promote", "abort"])
def test_promote_or_abort_at_run_time_loses_no_request(models, tmp_path, monkeypatch, action):
    monkeypatch.setenv("MLCTL_ADMIN_TOKEN", TOKEN)
    champ_v, canary_v = models["champion"]["manifest"]["version"], models["canary"]["manifest"]["version"]
    recs = models["recs"]
    stop = threading.Event()
    sent = []

    def client_loop(k: int) -> list[tuple[float, int, str]]:
        out = []
        with httpx.Client(base_url=server.url, timeout=30) as client:
            i = 0
            while not stop.is_set():
                r = client.post(
                    "/predict", json={"instances": [recs[i % len(recs)]]}, headers={"X-Client-ID": f"k{k}-{i % 7}"}
                )
                out.append((time.monotonic(), r.status_code, r.json().get("model_version")))
                i += 1
        return out

    with ThreadServer(app_for(models, tmp_path, 0.5)) as server:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client_loop, k) for k in range(8)]
            time.sleep(0.7)
            with httpx.Client(base_url=server.url) as admin:
                r = admin.post("/admin/canary", json={"action": action}, headers=AUTH)
                switched = time.monotonic()
            assert r.status_code == 200, r.text
            time.sleep(0.7)
            stop.set()
            for f in futures:
                sent += f.result()
        page = httpx.get(f"{server.url}/metrics").text
    assert len(sent) > 100 and all(status == 200 for _, status, _ in sent)
    before = {v for t, _, v in sent if t < switched - 0.05}
    after = {v for t, _, v in sent if t > switched + 0.05}
    assert before == {champ_v, canary_v}
    assert after == ({canary_v} if action == "promote" else {champ_v})
    answered = sum(
        metric(page, "mlctl_http_requests_total", endpoint="/predict", method="POST", status=str(s)) for s in (200,)
    )
    assert answered == len(sent)  # every request sent was answered, none lost or failed
    log = read_log(tmp_path / "logs")
    assert len(log) == len(sent)
    if action == "promote":  # after the promotion the former canary answers as the champion
        assert {"champion", "canary"} == set(log.loc[log["model_version"] == canary_v, "role"])


def test_the_command_line_starts_a_canary_and_a_shadow(models, tmp_path):
    """`mlctl serve --model A --canary B --canary-share 1 --shadow B`: real process, real port."""
    from tests.conftest import write_params
    from tests.serve_helpers import free_port, start_cli_server, wait_http

    write_params(tmp_path, {"target": "target", "collect": {"sources": [{"name": "d", "path": "d.csv"}]}})
    canary = str(models["canary"]["model"])
    port = free_port()
    args = ("--model", str(models["champion"]["model"]), "--canary", canary, "--canary-share", "1", "--shadow", canary)
    proc = start_cli_server(tmp_path, port, *args)
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc=proc)
        r = httpx.post(f"http://127.0.0.1:{port}/predict", json={"instances": [models["recs"][0]]})
        assert r.headers["x-model-version"] == models["canary"]["manifest"]["version"]
        page = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert metric(page, "mlctl_canary_share", version=models["canary"]["manifest"]["version"]) == 1.0
        assert "mlctl_shadow_requests_total" in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)
