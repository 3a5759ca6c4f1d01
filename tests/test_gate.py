"""`mlctl gate`: every rule passing and rejecting, the report, and the exit code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import git
from evaluate_helpers import train_project
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_GATE_REJECTED, ConfigError, GateRejectedError
from mlctl.core.fileio import read_json
from mlctl.core.project import Project
from mlctl.params import load_params
from mlctl.params.gate import GateParams
from mlctl.stages import evaluate
from mlctl.stages.gate import decide, run

runner = CliRunner()


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    """A trained and evaluated classification project (built once, copied per test)."""
    root = train_project(
        tmp_path_factory.mktemp("gate") / "project", evaluate={"slices": ["region"], "sensitive": "group"}
    )
    params = load_params(root / "params.yaml")
    evaluate.run(params.evaluate, params.common, Project(root))
    return root


@pytest.fixture
def project(evaluated, tmp_path):
    """A fresh copy of the evaluated project and a setter for its `gate:` section."""
    root = tmp_path / "project"
    shutil.copytree(evaluated, root)

    def with_gate(**gate) -> Path:
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["gate"] = gate
        (root / "params.yaml").write_text(yaml.safe_dump(params))
        return root

    return with_gate


def _gate(root: Path):
    params = load_params(root / "params.yaml")
    return run(params.gate, params.common, Project(root))


def _rules(report: dict, rule: str) -> list[dict]:
    return [r for r in report["rules"] if r["rule"] == rule]


def _model(root: Path) -> dict:
    return read_json(root / "metrics/evaluate.json")["model"]


def test_passing_gate_writes_every_rule(project):
    root = project(
        thresholds={"roc_auc": {"min": 0.7}, "log_loss": {"max": 1.0}},
        baseline_margin=0.05,
        slice_min={"accuracy": 0.5},
        max_fairness_gap=0.9,
        max_model_mb=50,
        max_latency_ms=10_000,
    )
    result = _gate(root)
    assert result.passed and result.candidate == "logistic_regression" and result.primary_metric == "roc_auc"
    report = read_json(root / "reports/gate.json")
    kinds = [r["rule"] for r in report["rules"]]
    assert kinds == [
        "threshold",
        "threshold",
        "baseline",
        "champion",
        "slice",
        "fairness",
        "model_size",
        "latency",
        "replay",
    ]  # replay: skipped, no reports/replay.json
    assert report["passed"] is True and report["failed"] == []
    champion = _rules(report, "champion")[0]
    assert champion["skipped"] and "no champion" in champion["detail"]
    latency = _rules(report, "latency")[0]
    assert 0 < latency["value"] < 10_000 and "50 single-row" in latency["detail"]
    size = _rules(report, "model_size")[0]
    assert size["value"] == pytest.approx((root / "models/model.skops").stat().st_size / 1e6)


def test_threshold_rejection_writes_report_then_raises(project):
    root = project(thresholds={"roc_auc": {"min": 0.9999}, "accuracy": {"min": 0.5}})
    with pytest.raises(GateRejectedError, match="threshold:roc_auc") as info:
        _gate(root)
    report = read_json(root / "reports/gate.json")
    assert report["passed"] is False and report["failed"] == ["threshold:roc_auc"]
    assert info.value.report == report
    accuracy = next(r for r in _rules(report, "threshold") if r["metric"] == "accuracy")
    assert accuracy["passed"] and not accuracy["skipped"]


def test_max_threshold_on_an_error_metric(project):
    log_loss = _model(project())["log_loss"]
    with pytest.raises(GateRejectedError, match="log_loss"):
        _gate(project(thresholds={"log_loss": {"max": log_loss / 2}}))
    assert _gate(project(thresholds={"log_loss": {"max": log_loss * 2}})).passed


def test_unknown_metric_lists_the_available_ones(project):
    root = project(thresholds={"auc": {"min": 0.5}})
    with pytest.raises(ConfigError) as info:
        _gate(root)
    assert "auc" in info.value.message and "roc_auc" in info.value.hint
    assert not (root / "reports/gate.json").exists()
    result = runner.invoke(app, ["gate", "-C", str(root)])
    assert result.exit_code == 2


def test_baseline_margin_respects_direction():
    evaluated = {"model": {"rmse": 1.0, "r2": 0.5}, "baseline": {"rmse": 1.2, "r2": 0.0}}
    ok = GateParams(primary_metric="rmse", baseline_margin=0.1)
    primary, rules = decide(ok, "regression", evaluated, None, None)
    assert primary == "rmse" and rules[0].passed and rules[0].limit == pytest.approx(1.1)
    _, rules = decide(GateParams(primary_metric="rmse", baseline_margin=0.3), "regression", evaluated, None, None)
    assert not rules[0].passed  # 1.0 is not below 1.2 - 0.3
    _, rules = decide(GateParams(baseline_margin=0.6), "regression", evaluated, None, None)
    assert rules[0].metric == "r2" and not rules[0].passed


def test_primary_falls_back_to_f1_when_roc_auc_is_undefined():
    evaluated = {"model": {"roc_auc": None, "f1": 0.8}, "baseline": {"roc_auc": None, "f1": 0.6}}
    primary, rules = decide(GateParams(), "classification", evaluated, None, None)
    assert primary == "f1" and rules[0].passed


def test_baseline_rule_rejects_a_model_no_better_than_baseline(project):
    root = project(baseline_margin=0.9)  # roc_auc would need to be >= 0.5 + 0.9
    with pytest.raises(GateRejectedError, match="baseline:roc_auc"):
        _gate(root)


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("no-such-branch", "does not exist"),
        ("model@production", "no version of model is in stage"),
        ("HEAD", "cannot be fetched"),
    ],
)
def test_champion_unavailable_is_skipped_not_failed(project, ref, reason):
    root = project(champion={"ref": ref})
    git(root, "init", "-q")
    git(root, "commit", "-q", "--allow-empty", "-m", "empty")  # HEAD exists but has no metrics file
    result = _gate(root)
    rule = next(r for r in result.rules if r.rule == "champion")
    assert rule.skipped and reason in rule.detail


def test_champion_outside_a_git_repository(project):
    root = project(champion={"ref": "main"})
    rule = next(r for r in _gate(root).rules if r.rule == "champion")
    assert rule.skipped and "not a git repository" in rule.detail


def test_slice_minimum(project):
    slices = read_json(project() / "metrics/slices.json")["slices"]
    worst = min(s["metrics"]["accuracy"] for s in slices)
    assert _gate(project(slice_min={"accuracy": worst})).passed
    root = project(slice_min={"accuracy": worst + 0.001, "log_loss": 100.0})
    with pytest.raises(GateRejectedError, match="slice:accuracy"):
        _gate(root)
    report = read_json(root / "reports/gate.json")
    by_metric = {r["metric"]: r for r in _rules(report, "slice")}
    assert by_metric["accuracy"]["value"] == pytest.approx(worst) and "failing" in by_metric["accuracy"]["detail"]
    assert by_metric["log_loss"]["passed"]  # an error metric's bound is a ceiling


def test_fairness_gap(project):
    gap = read_json(project() / "metrics/slices.json")["fairness"]["gap"]
    assert gap > 0
    assert _gate(project(max_fairness_gap=gap + 0.01)).passed
    with pytest.raises(GateRejectedError, match="fairness"):
        _gate(project(max_fairness_gap=gap / 2))


def test_fairness_without_sensitive_column_is_skipped():
    _, rules = decide(
        GateParams(max_fairness_gap=0.1),
        "classification",
        {"model": {"roc_auc": 0.9}, "baseline": {"roc_auc": 0.5}},
        {"slices": []},
        None,
    )
    assert rules[-1].rule == "fairness" and rules[-1].skipped


def test_model_size_and_latency(project):
    with pytest.raises(GateRejectedError, match="model_size") as info:
        _gate(project(max_model_mb=0.001))
    assert info.value.report["failed"] == ["model_size"]
    with pytest.raises(GateRejectedError, match="latency"):
        _gate(project(max_latency_ms=1e-6))


def test_cli_exit_codes_and_json(project):
    root = project(thresholds={"accuracy": {"min": 0.5}})
    passed = runner.invoke(app, ["gate", "-C", str(root)])
    assert passed.exit_code == 0, passed.output
    assert "passed the gate" in passed.output
    root = project(thresholds={"accuracy": {"min": 0.9999}})
    rejected = runner.invoke(app, ["gate", "-C", str(root), "--json"])
    assert rejected.exit_code == EXIT_GATE_REJECTED
    report = json.loads(rejected.stdout)
    assert report["passed"] is False and report["failed"] == ["threshold:accuracy"]
    (root / "metrics/evaluate.json").unlink()
    missing = runner.invoke(app, ["gate", "-C", str(root)])
    assert missing.exit_code == 3 and "mlctl evaluate" in missing.output


def _slices(*values: tuple[str, float | None, int]) -> dict:
    evaluated = [{"column": "region", "value": v, "rows": n, "metrics": {"roc_auc": m}} for v, m, n in values]
    return {"slices": evaluated, "skipped": [{"column": "region", "value": "tiny", "rows": 4, "reason": "few"}]}


def test_slice_drop_is_relative_to_the_overall_metric_and_reports_small_slices():
    evaluated = {"model": {"roc_auc": 0.80}, "baseline": {"roc_auc": 0.5}}
    params = GateParams(slice_max_drop={"roc_auc": 0.1})
    _, rules = decide(params, "classification", evaluated, _slices(("a", 0.75, 40), ("b", 0.90, 40)), None)
    rule = next(r for r in rules if r.rule == "slice_drop")
    assert rule.passed and rule.limit == pytest.approx(0.72) and rule.value == 0.75
    assert "too small to judge: region=tiny (4 rows)" in rule.detail
    _, rules = decide(params, "classification", evaluated, _slices(("a", 0.70, 40), ("b", None, 40)), None)
    rule = next(r for r in rules if r.rule == "slice_drop")
    assert not rule.passed and "region=a (0.7)" in rule.detail and "undefined in: region=b" in rule.detail
    only_small = {"slices": [], "skipped": _slices()["skipped"]}
    _, rules = decide(params, "classification", evaluated, only_small, None)
    rule = next(r for r in rules if r.rule == "slice_drop")
    assert rule.skipped and "too small to judge" in rule.detail
    errors = GateParams(slice_max_drop={"mae": 0.25})
    reg = {"model": {"r2": 0.5, "mae": 2.0}, "baseline": {"r2": 0.0}}
    worse = {"slices": [{"column": "c", "value": "x", "rows": 40, "metrics": {"mae": 2.6}}]}
    rule = next(r for r in decide(errors, "regression", reg, worse, None)[1] if r.rule == "slice_drop")
    assert not rule.passed and rule.limit == pytest.approx(2.5)
