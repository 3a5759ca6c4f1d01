"""Property-based fuzzing of the live service's OpenAPI spec with schemathesis: no input gives a 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mlctl.serve import create_app
from tests.serve_helpers import ThreadServer, build_model, serve_config


def schemathesis_cli() -> list[str]:
    exe = shutil.which("schemathesis") or shutil.which("st")
    if exe:
        return [exe]
    pytest.skip("schemathesis is not installed (pip install 'mlctl-toolkit[test]')")
    return [sys.executable]


@pytest.mark.slow
def test_fuzzing_the_openapi_spec_finds_no_server_error(tmp_path):
    """Every operation (/predict, /invocations, V2, ops) with generated valid and invalid inputs."""
    built = build_model(tmp_path / "models", "classification")
    app = create_app(serve_config(built, tmp_path, unknown_category="reject"))
    with ThreadServer(app) as server:
        cmd = [
            *schemathesis_cli(),
            "run",
            f"{server.url}/openapi.json",
            "--checks", "not_a_server_error",
            "--max-examples", "25",
            "--max-time", "15",
            "--phases", "examples,coverage,fuzzing",
            "--generation-database", "none",
            "--suppress-health-check", "all",
            "--seed", "7",
            "--workers", "2",
            "--no-color",
            "--report", "har",
            "--report-dir", str(tmp_path / "report"),
        ]  # fmt: skip
        # cwd: schemathesis keeps a crash cache (.schemathesis/) in the working directory
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "500" not in result.stdout.split("SUMMARY")[-1]
