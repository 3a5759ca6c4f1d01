"""`mlctl replay`: a real server logs a champion's answers, replay runs a candidate that differs on known rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, make_frame, write_params
from tests.serve_helpers import ThreadServer, build_model, records, serve_config

pytestmark = pytest.mark.slow

ROWS = 120


def mlctl(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    import os

    env = {**os.environ, **env}
    env.pop("MLCTL_PROJECT", None)
    return subprocess.run(
        [sys.executable, "-m", "mlctl", *args, "-C", str(project)], capture_output=True, text=True, env=env, timeout=300
    )


def serve_and_log(built: dict, tmp: Path, recs: list[dict]) -> Path:
    """Send each record as its own request (id req-<i>) to a real server; return the log directory."""
    import httpx

    from mlctl.serve import create_app

    config = serve_config(built, tmp)
    with ThreadServer(create_app(config)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        for i, rec in enumerate(recs):
            r = client.post("/predict", json={"instances": [rec]}, headers={"X-Request-ID": f"req-{i}"})
            assert r.status_code == 200, r.text
    return tmp / "logs"


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """Champion (forest on seed 0) served over HTTP; candidate (logistic regression) on disk; the known differences."""
    from mlctl.onnxmodel.runtime import OnnxModel

    tmp = tmp_path_factory.mktemp("replay")
    champion = build_model(tmp / "champion", seed=0)
    candidate = build_model(tmp / "candidate", estimator="logistic_regression", seed=1)
    df = make_frame("classification", n=ROWS, seed=7).drop(columns=["signup"])
    recs = records(df, slice(0, ROWS))
    log = serve_and_log(champion, tmp, recs)
    project = tmp / "project"
    project.mkdir()
    write_params(project, {"target": "target", "collect": {"sources": [{"name": "d", "path": "d.csv"}]}})
    # the differences, computed independently: both ONNX models on the same records
    a, b = (OnnxModel.load(m["model"], m["manifest_path"]) for m in (champion, candidate))
    la = a.predict_checked(a.check_records(recs, unknown="missing")).labels
    lb = b.predict_checked(b.check_records(recs, unknown="missing")).labels
    differ = {f"req-{i}" for i in np.flatnonzero(np.array([str(x) for x in la]) != np.array([str(x) for x in lb]))}
    assert 0 < len(differ) < ROWS  # the two models differ on some rows, not all
    labels = pd.DataFrame({"request_id": [f"req-{i}" for i in range(0, ROWS, 2)], "target": df["target"].iloc[::2]})
    labels.to_csv(tmp / "labels.csv", index=False)  # half of the requests got their label later
    truth = {f"req-{i}": str(df["target"].iloc[i]) for i in range(0, ROWS, 2)}
    accuracy = {
        who: float(np.mean([str(lab[int(k[4:])]) == t for k, t in truth.items()]))
        for who, lab in (("a", la), ("b", lb))
    }
    return {
        "tmp": tmp,
        "accuracy": accuracy,
        "log": log,
        "project": project,
        "champion": champion,
        "candidate": candidate,
        "differ": differ,
    }


def test_replay_finds_exactly_the_rows_the_models_differ_on(logged):
    project, cand = logged["project"], logged["candidate"]
    done = mlctl(
        project,
        "replay",
        str(logged["log"]),
        "--model",
        str(cand["model"]),
        "--champion",
        str(logged["champion"]["model"]),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["log"]["rows"] == ROWS
    assert report["agreement"]["compared"] == ROWS
    assert report["agreement"]["disagreements"] == len(logged["differ"])
    params = project / "params.yaml"
    text = params.read_text()
    params.write_text(text + "replay:\n  top: 1000\n")
    done = mlctl(project, "replay", str(logged["log"]), "--model", str(cand["model"]), "--json")
    params.write_text(text)
    found = {d["request_id"] for d in json.loads(done.stdout)["disagreements"]}
    assert found == logged["differ"]
    assert report["latency"]["ratio"] is not None and report["latency"]["candidate"]["calls"] >= 10
    assert report["shift"]["prediction"]["psi"] >= 0
    assert [s["column"] for s in report["slices"]] == ["colour", "region"]
    for s in report["slices"]:  # every row in one group: the groups add up to the whole
        assert sum(g["disagreements"] for g in s["groups"]) == len(logged["differ"])
    labelled = mlctl(
        project,
        "replay",
        str(logged["log"]),
        "--model",
        str(cand["model"]),
        "--labels",
        str(logged["tmp"] / "labels.csv"),
        "--json",
    )
    labels = json.loads(labelled.stdout)["labels"]
    assert labels["labelled_rows"] == ROWS // 2
    assert labels["champion"]["accuracy"] == pytest.approx(logged["accuracy"]["a"])
    assert labels["candidate"]["accuracy"] == pytest.approx(logged["accuracy"]["b"])
    for name in ("replay.json", "replay.md", "replay.html"):
        assert (project / "reports" / name).stat().st_size > 0
    md = (project / "reports" / "replay.md").read_text()
    assert "Largest disagreements" in md
    from mlctl.stages.report.compose import replay_section

    quoted = replay_section(md)  # as the pull-request report shows it
    assert quoted.startswith("**Replay: passed**") and "#### Largest disagreements" in quoted


def test_a_breached_limit_exits_5_and_the_gate_rule_reads_the_report(logged):
    from mlctl.core.fileio import read_json
    from mlctl.core.project import Project
    from mlctl.params.gate import GateParams
    from mlctl.stages.gate import replay_rules

    project, cand = logged["project"], logged["candidate"]
    params = project / "params.yaml"
    text = params.read_text()
    params.write_text(text + "gate:\n  replay:\n    max_disagreement: 0.0\n")
    try:
        done = mlctl(project, "replay", str(logged["log"]), "--model", str(cand["model"]))
    finally:
        params.write_text(text)
    assert done.returncode == 5, done.stdout + done.stderr
    report = read_json(project / "reports" / "replay.json")
    assert report["limits"]["failed"] == ["disagreement"]
    rules = replay_rules(GateParams(replay={"max_disagreement": 0.0}), Project(project))
    assert [(r.metric, r.passed, r.skipped) for r in rules] == [
        ("disagreement", False, False),
        ("new_rejects", True, False),
    ]
    loose = replay_rules(GateParams(replay={"max_disagreement": 1.0, "max_latency_ratio": 100}), Project(project))
    assert all(r.passed for r in loose)
    (project / "reports" / "replay.json").rename(project / "reports" / "replay.json.bak")
    try:
        skipped = replay_rules(GateParams(), Project(project))
        assert [(r.metric, r.skipped) for r in skipped] == [("new_rejects", True)]
        assert "no replay report" in skipped[0].detail
    finally:
        (project / "reports" / "replay.json.bak").rename(project / "reports" / "replay.json")


def test_bad_inputs_are_clear_errors_with_documented_codes(logged, tmp_path):
    project, cand = logged["project"], logged["candidate"]
    # an empty window: exit 3
    done = mlctl(project, "replay", str(logged["log"]), "--model", str(cand["model"]), "--until", "2000-01-01")
    assert done.returncode == 3 and "no champion rows to replay in the window" in done.stderr
    # a file that is not a request log: exit 4
    other = tmp_path / "other"
    other.mkdir()
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(other / "x.parquet")
    done = mlctl(project, "replay", str(other), "--model", str(cand["model"]))
    assert done.returncode == 4 and "not a request log" in done.stderr
    # a candidate whose inputs are not in the log: exit 8
    narrow = build_model(tmp_path / "narrow", seed=0)
    files = sorted(Path(logged["log"]).rglob("*.parquet"))
    table = pq.read_table(files[0]).drop_columns(["region"])
    pq.write_table(table, other / "x.parquet")
    done = mlctl(project, "replay", str(other), "--model", str(narrow["model"]))
    assert done.returncode == 8 and "'region'" in done.stderr and "not in the log" in done.stderr
    # a glob matching nothing: exit 3
    done = mlctl(project, "replay", str(tmp_path / "nothing" / "*.parquet"), "--model", str(cand["model"]))
    assert done.returncode == 3


def test_time_windows_and_a_stale_report_for_the_gate(logged, tmp_path):
    from mlctl.core.project import Project
    from mlctl.params.gate import GateParams
    from mlctl.stages.gate import replay_rules

    project, cand = logged["project"], logged["candidate"]
    done = mlctl(project, "replay", str(logged["log"]), "--model", str(cand["model"]), "--since", "1h", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["log"]["rows"] == ROWS  # logged minutes ago: inside the last hour
    done = mlctl(project, "replay", str(logged["log"]), "--model", str(cand["model"]), "--since", "yesterday")
    assert done.returncode == 2 and "cannot read 'yesterday' as a time" in done.stderr
    # the gate skips a report of another model than the one in models/
    models = project / "models"
    models.mkdir(exist_ok=True)
    (models / "model.json").write_text(json.dumps({"sha256": "0" * 64}))
    try:
        rules = replay_rules(GateParams(replay={"max_disagreement": 0.0}), Project(project))
    finally:
        (models / "model.json").unlink()
    assert all(r.skipped and "not this one" in r.detail for r in rules) and len(rules) == 2


def test_regression_disagreement_is_beyond_the_tolerance(tmp_path):
    """A regression log written by a real server; the candidate is the champion itself, then another model."""
    champion = build_model(tmp_path / "champion", "regression", seed=0)
    other = build_model(tmp_path / "other", "regression", estimator="ridge", seed=2)
    recs = records(make_frame("regression", n=40, seed=4).drop(columns=["signup"]), slice(0, 40))
    log = serve_and_log(champion, tmp_path, recs)
    write_params(
        tmp_path, {"target": "target", "task": "regression", "collect": {"sources": [{"name": "d", "path": "d.csv"}]}}
    )
    same = mlctl(tmp_path, "replay", str(log), "--model", str(champion["model"]), "--json")
    assert same.returncode == 0, same.stderr
    report = json.loads(same.stdout)
    assert report["agreement"]["disagreements"] == 0 and report["agreement"]["compared"] == 40
    differs = json.loads(mlctl(tmp_path, "replay", str(log), "--model", str(other["model"]), "--json").stdout)
    assert differs["agreement"]["disagreements"] == 40  # a ridge and a forest never agree to 1e-6
    top = differs["disagreements"][0]
    assert top["difference"] == max(d["difference"] for d in differs["disagreements"]) > 0
    assert set(top["inputs"]) == {"x1", "x2", "count", "flag", "colour", "region"}
