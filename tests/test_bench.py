"""`mlctl bench`: real onnxruntime timings of an exported model, compared with the base branch by `mlctl report`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from mlctl.cli import app
from tests.conftest import REPO, git, make_frame, write_params


@pytest.fixture
def project(tmp_path):
    from mlctl.convert import write_onnx_model
    from mlctl.estimators import build_pipeline
    from mlctl.features import infer_features, to_model_frame
    from mlctl.params.train import PreprocessParams

    df = make_frame(n=300).drop(columns=["signup"])
    features = infer_features(df, "target")
    X = to_model_frame(df, features)
    pipe = build_pipeline("logistic_regression", "classification", features, PreprocessParams(), 0).fit(X, df["target"])
    write_onnx_model(pipe, features, tmp_path / "models", task="classification", target="target", X_train=X)
    sources = [{"name": "data", "path": "data/sources/data.csv"}]
    write_params(tmp_path, {"seed": 0, "target": "target", "collect": {"sources": sources}})
    return tmp_path


def bench(root, *args):
    result = CliRunner().invoke(
        app, ["bench", "-C", str(root), "--rows", "2000", "--single", "30", "--repeat", "2", *args]
    )
    assert result.exit_code == 0, result.output
    return result


def test_bench_times_single_rows_and_batches(project):
    out = json.loads(bench(project, "--json").stdout)
    assert out["output"] == "reports/bench.json"
    written = json.loads((project / "reports/bench.json").read_text())
    assert written["batch"]["rows"] == 2000 and written["batch"]["runs"] == 2 and written["single_row"]["calls"] == 30
    one, batch = written["single_row"], written["batch"]
    assert 0 < one["p50_ms"] <= one["p95_ms"] and 0 < batch["median_ms"] <= batch["p95_ms"]
    assert one["onnxruntime_only_p50_ms"] > 0 and batch["rows_per_s"] > one["rows_per_s"]  # batching pays
    assert written["input"].startswith("generated")  # no test split here: rows from the manifest's schema
    assert written["model"]["sha256"] == json.loads((project / "models/model.json").read_text())["sha256"]


def test_bench_output_can_be_anywhere(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    bench(project, "--output", str(elsewhere / "timings.json"))
    assert (elsewhere / "timings.json").exists() and not (project / "reports" / "bench.json").exists()


def test_report_compares_bench_with_the_base_branch(project):
    from mlctl.params import load_params
    from mlctl.project import Project
    from mlctl.stages.report import run as report

    git(project, "init", "-q", "-b", "main")
    bench(project)
    base = json.loads((project / "reports/bench.json").read_text())
    git(project, "add", "-A")
    git(project, "commit", "-qm", "base with its timings")
    git(project, "checkout", "-qb", "feature")
    bench(project, "--rows", "500")
    this = json.loads((project / "reports/bench.json").read_text())
    params = load_params(project / "params.yaml")
    result = report(params.report, params.common, Project(project), base="main")
    perf = {p["key"]: p for p in result.data["perf"]}
    assert perf["batch latency median (ms)"]["base"] == base["batch"]["median_ms"]
    assert perf["batch latency median (ms)"]["this"] == this["batch"]["median_ms"]
    assert perf["single-row latency p95 (ms)"]["this"] == this["single_row"]["p95_ms"]
    text = (project / "reports/pr.md").read_text()
    assert "`reports/bench.json` from `mlctl bench`" in text and "batch latency p95 (ms)" in text


def test_the_old_script_runs_mlctl_bench(project):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks/bench_ci_micro.py"),
            "-C",
            str(project),
            "--rows",
            "500",
            "--single",
            "10",
            "--repeat",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["batch"]["rows"] == 500
