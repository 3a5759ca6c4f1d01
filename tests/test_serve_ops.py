"""`mlctl serve` as a real CLI subprocess: hot reload, SIGHUP, SIGTERM draining, workers, CLI errors."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import signal
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mlctl.cli import app as cli
from mlctl.serve import create_app
from tests.conftest import REPO
from tests.serve_helpers import (
    build_model,
    free_port,
    records,
    serve_config,
    sklearn_predict,
    start_cli_server,
    wait_http,
)

pytestmark = pytest.mark.slow  # every test here talks to a running server

TOKEN = "s3cret-token"


def make_project(root: Path, task: str = "classification", **serve) -> dict:
    built = build_model(root / "models", task)
    params = {
        "seed": 0,
        "target": "target",
        "task": task,
        "collect": {"sources": [{"name": "data", "path": "data.csv"}]},
        "serve": {"log_dir": "logs/requests", "log_flush_seconds": 0.2, **serve},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return built


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    built = make_project(root)
    port = free_port()
    proc = start_cli_server(root, port, env={"MLCTL_ADMIN_TOKEN": TOKEN})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/ready", 60, proc)
        yield {**built, "root": root, "url": url, "proc": proc}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def admin(url: str, token: str | None = TOKEN) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(url + "/admin/reload", headers=headers, timeout=30)


def version(url: str) -> str:
    return httpx.get(url + "/metadata").json()["version"]


def test_cli_server_predicts_like_sklearn(served):
    recs = records(served["frame"], slice(0, 20))
    r = httpx.post(served["url"] + "/predict", json={"instances": recs})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == list(sklearn_predict(served, recs)[0])
    assert httpx.get(served["url"] + "/openapi.json").status_code == 200


def test_reload_refuses_bad_models_and_keeps_serving(served, tmp_path):
    url, models = served["url"], served["root"] / "models"
    old = version(url)
    recs = records(served["frame"], slice(0, 5))
    assert admin(url, None).status_code == 401
    assert admin(url, "wrong").status_code == 401
    good = (models / "model.onnx").read_bytes()
    # corrupted file: sha256 no longer matches the manifest
    (models / "model.onnx").write_bytes(good[:-10] + b"0" * 10)
    r = admin(url)
    assert r.status_code == 409 and "sha256" in r.json()["detail"] and r.json()["serving"] == old
    assert httpx.post(url + "/predict", json={"instances": recs}).status_code == 200
    # missing file
    (models / "model.onnx").unlink()
    assert admin(url).status_code == 409
    # a valid model with a different input schema
    other = build_model(tmp_path / "other", "classification", drop=("flag",))
    shutil.copy(other["model"], models / "model.onnx")
    shutil.copy(other["manifest_path"], models / "model.json")
    r = admin(url)
    assert r.status_code == 409 and "input schema" in r.json()["detail"]
    assert version(url) == old
    assert httpx.post(url + "/predict", json={"instances": recs}).status_code == 200
    # a good new version is taken
    new = build_model(tmp_path / "new", "classification", seed=3)
    shutil.copy(new["model"], models / "model.onnx")
    shutil.copy(new["manifest_path"], models / "model.json")
    r = admin(url)
    assert r.status_code == 200, r.text
    assert r.json() == {"previous_version": old, "model_version": new["manifest"]["version"]}
    assert version(url) == new["manifest"]["version"]
    body = httpx.post(url + "/predict", json={"instances": recs}).json()
    assert body["model_version"] == new["manifest"]["version"]
    assert body["predictions"] == list(sklearn_predict(new, recs)[0])
    metrics = httpx.get(url + "/metrics").text
    assert f'version="{new["manifest"]["version"]}"' in metrics
    assert 'mlctl_model_reloads_total{outcome="refused"} 3' in metrics


def test_sighup_reloads(served, tmp_path):
    url, models = served["url"], served["root"] / "models"
    new = build_model(tmp_path / "hup", "classification", seed=4)
    shutil.copy(new["model"], models / "model.onnx")
    shutil.copy(new["manifest_path"], models / "model.json")
    served["proc"].send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while version(url) != new["manifest"]["version"]:
        assert time.monotonic() < deadline, "SIGHUP did not reload"
        time.sleep(0.1)


def test_sigterm_drains_in_flight_requests(served):
    url, proc = served["url"], served["proc"]
    recs = records(served["frame"], slice(0, 250)) * 4  # 1000 rows: slow-ish, scored off the event loop
    n = 12
    clients = [httpx.Client(timeout=60) for _ in range(n)]
    for c in clients:  # connections open before the signal: uvicorn drains them
        assert c.get(url + "/health").status_code == 200

    def fire(client: httpx.Client) -> int:
        return client.post(url + "/predict", json={"instances": recs}).status_code

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(fire, c) for c in clients]
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        codes = [f.result() for f in futures]
    assert codes == [200] * n
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    # the request log was flushed on shutdown: every scored row is in a finished Parquet file
    files = list((served["root"] / "logs" / "requests").rglob("part-*.parquet"))
    assert files and not list((served["root"] / "logs" / "requests").rglob("*.inprogress"))
    logged = pd.concat([pd.read_parquet(f) for f in files])
    assert (logged["endpoint"] == "/predict").sum() >= n * 1000


def test_shutdown_signal_turns_readiness_off_first(tmp_path):
    """The SIGTERM hook marks the service unready before uvicorn's own handler starts draining."""
    import asyncio

    from mlctl.serve.app import _hook_signals

    built = build_model(tmp_path / "m", "classification")
    ctx = create_app(serve_config(built, tmp_path, log_dir=None)).state.ctx
    ctx.state.warm_up()
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda s, f: seen.append(ctx.state.ready))  # stands in for uvicorn's
    loop = asyncio.new_event_loop()
    try:
        restore = _hook_signals(ctx, loop)
        assert ctx.state.ready
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        restore()
    finally:
        signal.signal(signal.SIGTERM, previous)
        loop.close()
    assert seen == [False] and not ctx.state.ready


def test_workers_use_the_import_string_factory(tmp_path):
    built = make_project(tmp_path, "regression")
    port = free_port()
    proc = start_cli_server(tmp_path, port, "--workers", "2")
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", 90, proc)
        recs = records(built["frame"], slice(0, 5))
        for _ in range(4):
            r = httpx.post(f"http://127.0.0.1:{port}/predict", json={"instances": recs})
            assert r.status_code == 200
        assert admin(f"http://127.0.0.1:{port}").status_code == 404  # no MLCTL_ADMIN_TOKEN: admin disabled
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_cli_errors_have_exit_codes(tmp_path, monkeypatch):
    built = make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli, ["serve", "--model", "churn@production"])
    assert r.exit_code == 3 and "not a git repository" in r.output  # registry refs need the git tags
    r = runner.invoke(cli, ["serve", "--model", "models/missing.onnx"])
    assert r.exit_code == 3
    built["model"].write_bytes(built["model"].read_bytes() + b"tampered")
    r = runner.invoke(cli, ["serve"])
    assert r.exit_code == 8 and "sha256" in r.output


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += " " + line[:-1].strip() if line.endswith("\\") else " " + line
        if not line.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def test_dockerfile_is_slim_non_root_with_healthcheck():
    text = (REPO / "Dockerfile").read_text()
    ins = dockerfile_instructions(text)
    names = [name for name, _ in ins]
    assert ins[0][0] == "FROM" and ins[0][1].startswith("python:3.11-slim")
    users = [args for name, args in ins if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert names.index("USER") < names.index("CMD")
    health = next(args for name, args in ins if name == "HEALTHCHECK")
    assert "urllib" in health and "/health" in health and "curl" not in text
    assert any(name == "EXPOSE" and "8080" in args for name, args in ins)
    cmd = next(args for name, args in ins if name == "CMD")
    assert "serve" in cmd and "0.0.0.0" in cmd  # inside a container the service must listen beyond loopback
    installs = " ".join(args for name, args in ins if name == "RUN")
    assert "scikit-learn" not in installs and "dvc" not in installs and "--no-deps" in installs
    assert "models/model.onnx" in (REPO / ".dockerignore").read_text()
