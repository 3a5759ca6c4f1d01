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
    # exit 0 means the not_a_server_error check never failed; "500 generated" in the summary is a count
    assert " passed" in result.stdout and "Server error" not in result.stdout


@pytest.mark.slow
def test_short_run_of_the_fuzz_benchmark_with_every_check(tmp_path):
    """benchmarks/fuzz_serve.py's run (`--checks all`, every route), short: no 5xx among the answers."""
    import importlib.util

    from tests.conftest import REPO

    schemathesis_cli()  # skips when schemathesis is absent, as above
    spec = importlib.util.spec_from_file_location("fuzz_serve", REPO / "benchmarks" / "fuzz_serve.py")
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    built = build_model(tmp_path / "models", "classification")
    app = create_app(serve_config(built, tmp_path, log_dir=None))
    (tmp_path / "report").mkdir()
    with ThreadServer(app) as server:
        result = fuzz.schemathesis(server.url, 150, seed=11, workers=1, report=tmp_path / "report")
    assert result["requests"] > 150, result["summary"]
    assert result["server_errors"] == 0, result["server_error_examples"]
    assert result["status_counts"].get(200, 0) > 0  # valid requests got through, not only rejections
