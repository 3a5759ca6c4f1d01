"""`mlctl smoke` against a real uvicorn server on 127.0.0.1 (what CD runs against staging)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_EXTERNAL, EXIT_MODEL_INVALID
from mlctl.serve import create_app
from tests.serve_helpers import ThreadServer, build_model, free_port, serve_config

pytestmark = pytest.mark.slow  # every test here talks to a running server

runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smoke")
    built = build_model(tmp / "models", "classification")
    with ThreadServer(create_app(serve_config(built, tmp, log_dir=None))) as srv:
        yield srv, built


def test_smoke_passes_and_reports_the_served_model(server):
    srv, built = server
    manifest = json.loads(built["manifest_path"].read_text())
    result = runner.invoke(app, ["smoke", srv.url, "--sha256", manifest["sha256"], "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model_version"] == manifest["version"]
    assert data["prediction"] in manifest["classes"]
    assert set(data["instance"]) == {i["name"] for i in manifest["inputs"]}


def test_smoke_fails_on_the_wrong_model(server):
    srv, _ = server
    result = runner.invoke(app, ["smoke", srv.url, "--sha256", "0" * 64])
    assert result.exit_code == EXIT_MODEL_INVALID
    assert "expected 000000000000" in result.output


def test_smoke_fails_when_nothing_listens():
    result = runner.invoke(app, ["smoke", f"http://127.0.0.1:{free_port()}", "--timeout", "1"])
    assert result.exit_code == EXIT_EXTERNAL
    assert "not ready" in result.output
