"""`mlctl monitor`: request logs, batch outputs and files against the reference; reports and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_frame
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import DataValidationError, DriftDetected, InputNotFoundError, MonitorAlert
from mlctl.core.project import Project
from mlctl.model.estimators import build_pipeline
from mlctl.model.features import infer_features, to_model_frame
from mlctl.model.metrics import Scored, compute
from mlctl.onnxmodel.runtime import OnnxModel
from mlctl.params import load_params
from mlctl.params.train import PreprocessParams
from mlctl.stages import monitor as stage
from mlctl.stages.export.convert import write_onnx_model

runner = CliRunner()


# -- fixtures: an exported model, its reference and evaluation, and generated request logs ------


def _inputs(task: str, n: int, seed: int) -> pd.DataFrame:
    return make_frame(task, n=n, seed=seed).drop(columns=["signup"])


def _score(model: OnnxModel, df: pd.DataFrame):
    X = to_model_frame(df, infer_features(df.drop(columns=["target"], errors="ignore"), "target"))
    checked = model.check_columns({n: X[n].to_numpy() for n in model.input_names}, len(X))
    res = model.predict_checked(checked)
    return res.labels, res.probabilities


def _build(root: Path, task: str) -> None:
    df = _inputs(task, 1500, 0)
    features = infer_features(df, "target")
    X = to_model_frame(df, features)
    name = "logistic_regression" if task == "classification" else "ridge"
    pipe = build_pipeline(name, task, features, PreprocessParams(), 0).fit(X, df["target"])
    write_onnx_model(pipe, features, root / "models", task=task, target="target", X_train=X)
    (root / "data" / "processed").mkdir(parents=True)
    df.to_parquet(root / "data" / "processed" / "train.parquet", index=False)
    model = OnnxModel.load(root / "models" / "model.onnx")
    test = _inputs(task, 800, 99)
    labels, proba = _score(model, test)
    if task == "classification":
        lookup = {c: i for i, c in enumerate(model.classes)}
        y = test["target"].map(lookup).to_numpy()
        pred = np.array([lookup[v] for v in labels])
        metrics, _ = compute(Scored(task, y, pred, proba, True, list(model.classes)))
    else:
        metrics, _ = compute(Scored(task, test["target"].to_numpy(), labels.astype(float)))
    (root / "metrics").mkdir()
    (root / "metrics" / "evaluate.json").write_text(json.dumps({"model": metrics, "baseline": {}}))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Model artifacts per task, built once: copied into each test's project."""
    out = {}
    for task in ("classification", "regression"):
        root = tmp_path_factory.mktemp(task)
        _build(root, task)
        out[task] = root
    return out


@pytest.fixture
def project(built, tmp_path):
    def _make(task: str = "classification", **monitor) -> Path:
        root = tmp_path / "project"
        shutil.copytree(built[task], root)
        params = {
            "seed": 0,
            "target": "target",
            "task": task,
            "collect": {"sources": [{"name": "d", "path": "data/sources/d.csv"}]},
            "monitor": monitor,
        }
        (root / "params.yaml").write_text(yaml.safe_dump(params))
        return root

    return _make


def write_logs(
    root: Path,
    df: pd.DataFrame,
    *,
    version: str | None = None,
    part: int = 0,
    start: str = "2025-01-01",
    freq: str = "1min",
    keep_target: bool = False,
) -> pd.DataFrame:
    """Request logs as `mlctl serve` writes them: logs/requests/<version>/part-*.parquet."""
    model = OnnxModel.load(root / "models" / "model.onnx")
    version = version or model.version
    labels, proba = _score(model, df)
    out = df.copy() if keep_target else df.drop(columns=["target"])
    n = len(out)
    out.insert(0, "request_id", [f"{version}-{part}-{i}" for i in range(n)])
    out.insert(1, "timestamp", pd.date_range(start, periods=n, freq=freq, tz="UTC"))
    out.insert(2, "model_version", version)
    out.insert(3, "latency_ms", np.random.default_rng(part).gamma(2.0, 2.0, n))
    out["prediction"] = labels
    if proba is not None:
        for i, c in enumerate(model.classes):
            out[f"proba_{c}"] = proba[:, i]
    folder = root / "logs" / "requests" / version
    folder.mkdir(parents=True, exist_ok=True)
    out.to_parquet(folder / f"part-{part:05d}.parquet", index=False)
    return out


def monitor(root: Path, **kwargs):
    """The library call; returns the report whether or not drift was raised."""
    params = load_params(root / "params.yaml")
    try:
        return stage.run(params.monitor, params.common, Project(root), **kwargs).to_dict(), None
    except (DriftDetected, MonitorAlert) as exc:
        return exc.report, exc


def drifted(report: dict) -> list[str]:
    return [r["feature"] for r in report["drift"]["features"] if r["drifted"]]


# -- the three must-holds through the whole stage -----------------------------------------------


def test_fresh_logs_from_the_reference_distribution_are_ok(project):
    root = project()
    write_logs(root, _inputs("classification", 3000, 5))
    report, exc = monitor(root)
    assert exc is None
    assert report["verdict"] == "ok" and report["retrain_advised"] is False
    assert drifted(report) == [] and not report["prediction_drift"]["drifted"]
    assert report["skew"] == {
        "checked": True,
        "rows": 3000,
        "disagreement_share": 0.0,
        "max_abs_diff": 0.0,
        "skew": False,
    }
    assert report["quality"]["invalid_rows"] == 0
    saved = json.loads((root / "reports" / "monitor.json").read_text())
    assert saved["verdict"] == "ok" and saved["current"]["rows"] == 3000
    html = (root / "reports" / "monitor.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html and "http" not in html
    md = (root / "reports" / "monitor.md").read_text()
    assert "| feature | kind | test | statistic | p_value | psi |" in md


def test_drift_injected_into_one_feature_is_attributed_to_it(project):
    root = project(drift_share=0.15)
    cur = _inputs("classification", 3000, 6)
    cur["x2"] = cur["x2"] + 4.0  # a shift of about 1.4 reference standard deviations
    write_logs(root, cur)
    report, exc = monitor(root)
    assert isinstance(exc, DriftDetected) and exc.exit_code == 7
    assert drifted(report) == ["x2"]
    assert report["verdict"] == "drift" and report["retrain_advised"]
    x2 = next(r for r in report["drift"]["features"] if r["feature"] == "x2")
    assert x2["test"] == "ks" and x2["p_value"] < 1e-10 and x2["psi"] > 0.2  # ~900 effective rows: a test
    # the reports were written before the exception
    assert json.loads((root / "reports" / "monitor.json").read_text())["verdict"] == "drift"
    assert "x2" in (root / "reports" / "monitor.md").read_text()


def test_changed_label_relationship_is_found_as_decay_not_drift(project):
    root = project()
    cur = _inputs("classification", 3000, 7)
    north = cur["region"] == "north"
    cur.loc[north, "target"] = np.where(cur.loc[north, "target"] == "yes", "no", "yes")  # the world changed
    write_logs(root, cur, keep_target=True)
    report, exc = monitor(root)
    assert isinstance(exc, DriftDetected)
    assert report["verdict"] == "decay"
    assert drifted(report) == [] and not report["drift"]["dataset_drift"]
    perf = report["performance"]
    assert perf["primary_metric"] == "roc_auc" and perf["labelled_rows"] == 3000
    assert perf["change"] < -0.05 and perf["decay"]


def test_labels_file_joined_by_request_id(project, tmp_path):
    root = project()
    cur = _inputs("classification", 1000, 8)
    logged = write_logs(root, cur)
    labels = pd.DataFrame({"request_id": logged["request_id"], "target": cur["target"]}).iloc[::2]
    labels.to_csv(root / "labels.csv", index=False)
    report, exc = monitor(root, labels="labels.csv")
    assert exc is None
    perf = report["performance"]
    assert perf["labelled_rows"] == 500 and not perf["decay"]
    assert abs(perf["change"]) < 0.05


def test_regression_file_without_predictions_is_scored_and_decay_found(project):
    root = project("regression")
    cur = _inputs("regression", 1500, 9)
    cur["target"] = cur["target"] * -1.0  # the target function changed
    cur.to_csv(root / "current.csv", index=False)
    report, exc = monitor(root, current="current.csv")
    assert report["current"]["served_predictions"] is False
    assert report["skew"]["checked"] is False
    assert report["prediction_drift"]["test"] == "ks" and not report["prediction_drift"]["drifted"]
    assert report["verdict"] == "decay" and isinstance(exc, DriftDetected)
    assert report["performance"]["primary_metric"] == "r2"
    assert report["window"] is None and report["windows"] == []


# -- streaming: chunks, windows, versions ------------------------------------------------------


def test_chunked_reading_gives_the_same_exact_counts(project):
    root = project(chunk_rows=1000, sample_rows=500)
    for part in range(3):
        write_logs(root, _inputs("classification", 1500, 20 + part), part=part, start=f"2025-01-0{part + 1}")
    small, _ = monitor(root)
    (root / "params.yaml").write_text(
        (root / "params.yaml").read_text().replace("chunk_rows: 1000", "chunk_rows: 100000")
    )
    big, _ = monitor(root)
    assert small["current"]["rows"] == big["current"]["rows"] == 4500
    for a, b in zip(small["drift"]["features"], big["drift"]["features"], strict=True):
        assert a["psi"] == pytest.approx(b["psi"])  # exact histograms do not depend on the chunking
        assert a["null_cur"] == pytest.approx(b["null_cur"])
    assert small["skew"]["rows"] == 500  # the reservoir is bounded by sample_rows
    assert [w["rows"] for w in small["windows"]] == [w["rows"] for w in big["windows"]]


def test_windows_show_when_the_drift_started(project):
    root = project(window="day", drift_share=0.15)
    write_logs(root, _inputs("classification", 1440, 30), part=0, start="2025-03-01")
    late = _inputs("classification", 1440, 31)
    late["x1"] = late["x1"] + 1.5
    write_logs(root, late, part=1, start="2025-03-02")
    report, _ = monitor(root)
    days = report["windows"]
    assert [w["start"][:10] for w in days] == ["2025-03-01", "2025-03-02"]
    assert [w["rows"] for w in days] == [1440, 1440]
    assert days[0]["drifted"] == [] and days[1]["drifted"] == ["x1"]
    assert days[1]["prediction_shares"]["yes"] > days[0]["prediction_shares"]["yes"]  # x1 raises the score
    assert "latency_ms_mean" in days[0]


def test_other_model_versions_are_listed_not_mixed(project):
    root = project()
    write_logs(root, _inputs("classification", 1000, 40))
    old = _inputs("classification", 700, 41)
    old["x1"] = old["x1"] + 3  # would be drift if it were mixed in
    write_logs(root, old, version="0ldversion00")
    report, exc = monitor(root)
    assert exc is None and report["current"]["rows"] == 1000
    assert report["current"]["other_versions"] == {"0ldversion00": 700}
    assert any("other model versions" in a for a in report["alerts"])


def test_only_other_versions_is_not_found(project):
    root = project()
    write_logs(root, _inputs("classification", 300, 42), version="0ldversion00")
    with pytest.raises(InputNotFoundError, match="0ldversion00 \\(300 rows\\)"):
        monitor(root)
    assert not (root / "reports" / "monitor.json").exists()


# -- skew, quality, staleness, health ----------------------------------------------------------


def test_missing_feature_is_schema_skew_and_all_missing_is_an_error(project):
    root = project()
    logged = write_logs(root, _inputs("classification", 800, 50))
    logged.drop(columns=["region"]).to_parquet(next((root / "logs").rglob("*.parquet")), index=False)
    report, _ = monitor(root)
    assert report["quality"]["missing_features"] == ["region"]
    assert [r["feature"] for r in report["drift"]["features"]] == ["x1", "x2", "count", "flag", "colour"]
    assert report["skew"]["checked"] is False
    assert any("schema skew" in a for a in report["alerts"])
    logged[["request_id", "timestamp", "model_version", "prediction"]].to_parquet(
        next((root / "logs").rglob("*.parquet")), index=False
    )
    with pytest.raises(DataValidationError, match="none of the model's 6 features"):
        monitor(root)


def test_serving_skew_and_numerical_health_are_reported(project):
    root = project()
    logged = write_logs(root, _inputs("classification", 1000, 60))
    logged.loc[:49, "prediction"] = np.where(logged.loc[:49, "prediction"] == "yes", "no", "yes")
    logged.loc[50:59, "proba_yes"] = np.nan
    logged.loc[60:64, "x1"] = np.inf  # fails the model's input checks
    logged.to_parquet(next((root / "logs").rglob("*.parquet")), index=False)
    report, _ = monitor(root)
    skew = report["skew"]
    assert skew["skew"] and skew["disagreement_share"] >= 0.05
    assert report["health"]["nan_probabilities"] == 10
    assert report["quality"]["invalid_rows"] == 5
    assert report["quality"]["reasons"] == {"x1: infinite value not allowed": 5}


def test_stale_model_advises_retraining(project):
    root = project(max_model_age_days=30)
    manifest = json.loads((root / "models" / "model.json").read_text())
    manifest["created"] = (dt.datetime.now(dt.UTC) - dt.timedelta(days=45)).isoformat()
    (root / "models" / "model.json").write_text(json.dumps(manifest))
    write_logs(root, _inputs("classification", 500, 70))
    report, exc = monitor(root)
    assert report["verdict"] == "ok" and report["retrain_advised"] and isinstance(exc, DriftDetected)
    assert report["staleness"]["stale"] and 44 < report["staleness"]["age_days"] < 46


def test_the_staleness_curve_sets_the_maximum_age(project):
    """evaluate's curve (metrics/staleness.json) replaces monitor.max_model_age_days when monitor.staleness names it."""
    root = project(max_model_age_days=1000, staleness="metrics/staleness.json")
    manifest = json.loads((root / "models" / "model.json").read_text())
    manifest["created"] = (dt.datetime.now(dt.UTC) - dt.timedelta(days=45)).isoformat()
    (root / "models" / "model.json").write_text(json.dumps(manifest))
    write_logs(root, _inputs("classification", 500, 70))
    report, _ = monitor(root)  # no curve yet: the setting
    assert not report["staleness"]["stale"] and report["staleness"]["max_age_source"] == "monitor.max_model_age_days"
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics/staleness.json").write_text(json.dumps({"enabled": True, "max_age_days": 30.4}))
    report, exc = monitor(root)
    assert report["staleness"]["stale"] and report["staleness"]["max_age_days"] == 30.4
    assert isinstance(exc, DriftDetected) and any("staleness curve" in r for r in report["reasons"])


def test_quality_reuses_the_validate_schema_and_profile(project):
    from mlctl.core.fileio import write_json
    from mlctl.data.schema import infer, save_schema

    root = project()
    inferred = infer(make_frame(n=1500, seed=0))  # `mlctl schema infer` on the collected data
    save_schema(inferred.schema, root / "data" / "schema.yaml")
    write_json(root / "data" / "profile.json", inferred.profile)
    cur = _inputs("classification", 600, 75)
    cur.loc[:99, "colour"] = "purple"  # unseen categories, beyond validate's tolerance
    write_logs(root, cur)
    report, _ = monitor(root)
    checked = report["quality"]["schema"]
    assert checked["rows_checked"] == 600 and checked["valid"] is False
    assert "signup" in checked["columns_not_checked"] and "target" in checked["columns_not_checked"]
    found = {(f["kind"], f["column"]) for f in checked["value_skew"]}
    assert ("unseen_categories", "colour") in found and {c for _, c in found} == {"colour"}
    assert any(r.startswith("value skew (`mlctl validate` checks)") for r in report["reasons"])  # retrains
    colour = next(f for f in report["quality"]["features"] if f["feature"] == "colour")
    assert colour["unseen_share"] == pytest.approx(100 / 600)


def test_batch_output_file_without_timestamps(project):
    root = project()
    logged = write_logs(root, _inputs("classification", 600, 80))
    batch = logged.drop(columns=["request_id", "timestamp", "model_version", "latency_ms"])
    batch.to_json(root / "scored.jsonl", orient="records", lines=True)
    report, exc = monitor(root, current="scored.jsonl")
    assert exc is None and report["current"]["kind"] == "file" and report["current"]["rows"] == 600
    assert report["skew"]["checked"] and not report["skew"]["skew"]
    assert report["windows"] == []


# -- the command line --------------------------------------------------------------------------


def test_cli_help():
    result = runner.invoke(app, ["monitor", "--help"])
    assert result.exit_code == 0
    assert "--labels" in result.output and "exit 7" in result.output


def test_cli_exit_0_and_json(project):
    root = project()
    write_logs(root, _inputs("classification", 800, 90))
    result = runner.invoke(app, ["monitor", "-C", str(root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verdict"] == "ok" and data["retrain_advised"] is False
    assert data["outputs"]["json"] == "reports/monitor.json"


def test_cli_exit_7_on_drift_after_writing_reports(project):
    root = project()
    cur = _inputs("classification", 800, 91)
    cur["x1"], cur["x2"] = cur["x1"] - 2, cur["x2"] * 2
    write_logs(root, cur)
    result = runner.invoke(app, ["monitor", "-C", str(root), "--json"])
    assert result.exit_code == 7, result.output
    assert json.loads(result.stdout)["verdict"] == "drift"
    assert (root / "reports" / "monitor.html").exists()
    plain = runner.invoke(app, ["monitor", "-C", str(root), "--window", "hour"])
    assert plain.exit_code == 7 and "drift detected" in plain.stderr


def test_cli_empty_log_directory_exits_3(project):
    root = project()
    (root / "logs" / "requests").mkdir(parents=True)
    result = runner.invoke(app, ["monitor", "-C", str(root)])
    assert result.exit_code == 3
    message = result.stderr.replace("\n", "")  # rich wraps long lines
    assert "no data files" in message and "logs/requests" in message
    assert not (root / "reports").exists()


def test_cli_all_features_missing_exits_4(project):
    root = project()
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv(root / "other.csv", index=False)
    result = runner.invoke(app, ["monitor", "other.csv", "-C", str(root)])
    assert result.exit_code == 4 and "none of the model's" in result.stderr


def test_window_starts_hour_day_and_monday_weeks():
    from mlctl.stages.monitor.windows import NO_TIME, window_starts

    ts = pd.Series(["2025-01-01T10:30:00Z", "2025-01-05T23:59:59Z", "2025-01-06T00:00:00Z", None])
    as_text = lambda secs: [None if s == NO_TIME else str(pd.Timestamp(s, unit="s")) for s in secs]  # noqa: E731
    assert as_text(window_starts(ts, "hour"))[:2] == ["2025-01-01 10:00:00", "2025-01-05 23:00:00"]
    assert as_text(window_starts(ts, "day"))[1] == "2025-01-05 00:00:00"
    # 2025-01-01 is a Wednesday: its week starts Monday 2024-12-30; Sunday the 5th is the same week
    assert as_text(window_starts(ts, "week")) == [
        "2024-12-30 00:00:00",
        "2024-12-30 00:00:00",
        "2025-01-06 00:00:00",
        None,
    ]


# -- monitor.policy: what each finding does to the exit code -----------------------------------


def _skewed_logs(root: Path) -> None:
    logged = write_logs(root, _inputs("classification", 1000, 60))
    logged.loc[:49, "prediction"] = np.where(logged.loc[:49, "prediction"] == "yes", "no", "yes")
    logged.loc[50:59, "proba_yes"] = np.nan
    logged.to_parquet(next((root / "logs").rglob("*.parquet")), index=False)


def test_skew_and_numerical_health_alert_by_default_and_follow_the_policy(project):
    root = project()
    _skewed_logs(root)
    report, exc = monitor(root)
    assert isinstance(exc, MonitorAlert) and exc.exit_code == 9
    found = {f["check"]: f["action"] for f in report["findings"] if f["found"]}
    assert found == {"skew": "alert", "numerical_health": "alert"} and report["action"] == "alert"
    assert not report["retrain_advised"] and [a.split(":")[0] for a in report["alerts"][:2]] == [
        "training/serving skew",
        "numerical health",
    ]
    result = runner.invoke(app, ["monitor", "-C", str(root), "--json"])
    assert result.exit_code == 9 and json.loads(result.stdout)["action"] == "alert"

    shutil.rmtree(root)
    root = project(policy={"skew": "ignore", "numerical_health": "ignore"})
    _skewed_logs(root)
    report, exc = monitor(root)
    assert exc is None and report["action"] == "ok" and len(report["ignored"]) == 2
    assert not [a for a in report["alerts"] if a.startswith(("training/serving skew", "numerical health"))]

    shutil.rmtree(root)
    root = project(policy={"skew": "retrain"})
    _skewed_logs(root)
    report, exc = monitor(root)  # retraining wins the exit code; the health alert rides along
    assert isinstance(exc, DriftDetected) and report["action"] == "retrain"
    assert report["reasons"][0].startswith("training/serving skew") and report["alerts"][0].startswith("numerical")


def test_prediction_drift_is_found_when_the_predictions_move_and_only_then(project):
    """data_drift ignored: the exit code follows the predictions alone, in both directions."""
    policy = {"data_drift": "ignore"}
    root = project(policy=policy, drift_share=0.1)
    write_logs(root, _inputs("classification", 2000, 92))
    report, exc = monitor(root)
    assert exc is None and not report["prediction_drift"]["drifted"] and report["action"] == "ok"

    shutil.rmtree(root)
    root = project(policy=policy, drift_share=0.1)
    cur = _inputs("classification", 2000, 93)
    cur["x1"] = cur["x1"] + 2.0  # the strongest feature: most predictions flip to "yes"
    write_logs(root, cur)
    report, exc = monitor(root)
    assert report["prediction_drift"]["drifted"] and isinstance(exc, DriftDetected)
    assert report["reasons"][0].startswith("prediction drift") and report["ignored"][0].startswith("data drift")

    shutil.rmtree(root)
    root = project(policy={"data_drift": "ignore", "prediction_drift": "ignore"})
    write_logs(root, cur)
    report, exc = monitor(root)
    assert exc is None and report["prediction_drift"]["drifted"] and report["action"] == "ok"
