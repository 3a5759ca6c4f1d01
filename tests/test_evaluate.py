"""`mlctl evaluate`: metrics (checked against scikit-learn), intervals, slices, fairness, plots, card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluate_helpers import make_data, train_project
from sklearn import metrics as skm
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import ConfigError, DataError
from mlctl.core.fileio import load_skops, read_json
from mlctl.core.project import Project
from mlctl.model.features import Feature, to_model_frame
from mlctl.model.metrics import Scored, bootstrap, compute
from mlctl.params import load_params
from mlctl.stages.evaluate import run

runner = CliRunner()


def _run(root: Path):
    project = Project(root)
    params = load_params(project.params_path)
    return run(params.evaluate, params.common, project)


def _binary(n=200, seed=0) -> Scored:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    p1[:5] = 0.5  # ties in the scores
    proba = np.column_stack([1 - p1, p1])
    return Scored("classification", y, (p1 > 0.45).astype(int), proba, True, ["no", "yes"])


def test_binary_metrics_match_scikit_learn():
    s = _binary()
    got, why = compute(s)
    assert why == {}
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(s.y, s.pred))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(s.y, s.pred))
    assert got["precision"] == pytest.approx(skm.precision_score(s.y, s.pred))
    assert got["recall"] == pytest.approx(skm.recall_score(s.y, s.pred))
    assert got["f1"] == pytest.approx(skm.f1_score(s.y, s.pred))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(s.y, s.scores[:, 1]))
    assert got["log_loss"] == pytest.approx(skm.log_loss(s.y, s.scores))
    assert got["brier"] == pytest.approx(skm.brier_score_loss(s.y, s.scores[:, 1]))


def test_multiclass_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    s = Scored("classification", y, proba.argmax(axis=1), proba, True, ["a", "b", "c"])
    got, _ = compute(s)
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert got[name] == pytest.approx(fn(y, s.pred, average="macro")), name
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert got["brier"] == pytest.approx(np.mean((np.eye(3)[y] - proba) ** 2))


def test_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(2)
    y = rng.normal(5, 2, 100)
    pred = y + rng.normal(0, 0.5, 100)
    got, why = compute(Scored("regression", y, pred))
    assert why == {}
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred))


def test_undefined_metrics_are_null_with_a_reason():
    s = _binary()
    one_class = s.take(np.flatnonzero(s.y == 0))
    got, why = compute(one_class)
    assert got["roc_auc"] is None and "one class" in why["roc_auc"]
    assert got["accuracy"] is not None
    flat, why = compute(Scored("regression", np.zeros(10), np.ones(10)))
    assert flat["r2"] is None and flat["mape"] is None and set(why) == {"r2", "mape"}
    no_proba = Scored("classification", s.y, s.pred, None, False, ["no", "yes"])
    got, why = compute(no_proba)
    assert got["log_loss"] is None and "probabilities" in why["log_loss"]


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    s = _binary()
    first, again, other = bootstrap(s, 50, 7), bootstrap(s, 50, 7), bootstrap(s, 50, 8)
    assert first == again and first != other
    point, _ = compute(s)
    for name, ci in first.items():
        assert ci["defined"] == 50
        assert ci["low"] <= point[name] <= ci["high"], name
    assert bootstrap(s, 0, 7) == {}


def test_evaluate_writes_metrics_intervals_slices_plots_and_card(tmp_path):
    root = train_project(tmp_path, evaluate={"slices": ["region", "group"], "sensitive": "group"})
    result = _run(root)

    evaluated = read_json(root / "metrics/evaluate.json")
    assert set(evaluated) == {"model", "baseline", "rows", "undefined"}
    assert all(isinstance(v, float) for v in evaluated["model"].values())  # flat numbers for `dvc metrics`
    # the numbers are the fitted model's, as scikit-learn computes them
    test = pd.read_parquet(root / "data/processed/test.parquet")
    info = read_json(root / "models/train.json")
    model = load_skops(root / "models/model.skops")
    X = to_model_frame(test, [Feature(**f) for f in info["features"]])
    y_pos = (test["target"] == info["classes"][1]).to_numpy()
    assert evaluated["model"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y_pos, model.predict_proba(X)[:, 1]))
    assert evaluated["model"]["f1"] == pytest.approx(skm.f1_score(test["target"], model.predict(X), pos_label="yes"))
    assert evaluated["baseline"]["roc_auc"] == pytest.approx(0.5)
    assert evaluated["model"]["roc_auc"] > evaluated["baseline"]["roc_auc"] + 0.2

    intervals = read_json(root / "metrics/intervals.json")
    assert intervals["resamples"] == 50 and intervals["confidence"] == 0.95
    assert (
        intervals["model"]["roc_auc"]["low"] <= evaluated["model"]["roc_auc"] <= intervals["model"]["roc_auc"]["high"]
    )

    slices = read_json(root / "metrics/slices.json")
    evaluated_levels = {(s["column"], s["value"]) for s in slices["slices"]}
    skipped = {(s["column"], s["value"]) for s in slices["skipped"]}
    counts = test["region"].value_counts()
    assert skipped == {("region", v) for v, c in counts.items() if c < 10}
    assert ("group", "a") in evaluated_levels and ("group", "b") in evaluated_levels
    # the fairness gap is the recall (true positive rate) difference between the groups
    fair = slices["fairness"]
    recalls = {
        g: skm.recall_score(test["target"][test["group"] == g], model.predict(X[test["group"] == g]), pos_label="yes")
        for g in ("a", "b")
    }
    assert fair["metric"] == "recall"
    assert fair["gap"] == pytest.approx(abs(recalls["a"] - recalls["b"]))

    plots = root / "plots"
    confusion = pd.read_csv(plots / "confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"] and len(confusion) == len(test)
    assert list(pd.read_csv(plots / "roc.csv").columns) == ["fpr", "tpr", "threshold"]
    assert list(pd.read_csv(plots / "precision_recall.csv").columns)[:2] == ["recall", "precision"]
    calibration = pd.read_csv(plots / "calibration.csv")
    assert calibration["rows"].sum() == len(test)
    importance = pd.read_csv(plots / "feature_importance.csv")
    assert set(importance["feature"]) == {f["name"] for f in info["features"]}
    assert importance["feature"].iloc[0] == "x1"  # the strongest signal in make_frame

    card = (root / "reports/model_card.md").read_text()
    for text in ("logistic_regression", "| roc_auc |", "Largest gap", "`group` is excluded", "| train | 180 |"):
        assert text in card, text
    assert result.files[0] == "metrics/evaluate.json"


def test_evaluate_regression(tmp_path):
    root = train_project(tmp_path, "regression", candidate="ridge", evaluate={"sensitive": "group"})
    result = _run(root)
    evaluated = read_json(root / "metrics/evaluate.json")
    assert set(evaluated["model"]) == {"rmse", "mae", "r2", "mape"}
    assert evaluated["model"]["r2"] > 0.8 and evaluated["baseline"]["r2"] <= 0.0
    assert result.fairness["metric"] == "mae" and result.fairness["higher_is_better"] is False
    scatter = pd.read_csv(root / "plots/predicted_vs_actual.csv")
    residuals = pd.read_csv(root / "plots/residuals.csv")
    assert len(scatter) == len(residuals) == result.rows
    assert np.allclose(residuals["residual"], scatter["actual"] - scatter["predicted"])
    assert result.importance_scoring == "r2"


def test_evaluate_multiclass_micro_averages_curves(tmp_path):
    root = train_project(tmp_path, candidate="random_forest", n_classes=3, model_params={"n_estimators": 20})
    result = _run(root)
    assert result.metrics["model"]["roc_auc"] > 0.7
    assert any("micro-averaged" in note for note in result.notes)
    assert len(pd.read_csv(root / "plots/roc.csv")) > 2
    assert result.importance_scoring == "roc_auc_ovr"


def test_single_class_test_split_records_null_roc_auc(tmp_path):
    test = make_data(n=300, seed=5)
    test = test[test["target"] == "yes"].head(40)
    root = train_project(tmp_path, test=test)
    result = _run(root)
    evaluated = read_json(root / "metrics/evaluate.json")
    assert evaluated["model"]["roc_auc"] is None
    assert "one class" in evaluated["undefined"]["model"]["roc_auc"]
    assert evaluated["model"]["recall"] is not None
    assert len(pd.read_csv(root / "plots/roc.csv")) == 0
    assert result.importance_scoring == "accuracy"


def test_empty_test_split_is_a_data_error(tmp_path):
    root = train_project(tmp_path, test=make_data(n=50).head(0))
    with pytest.raises(DataError, match="no labelled rows"):
        _run(root)
    result = runner.invoke(app, ["evaluate", "-C", str(root)])
    assert result.exit_code == 4, result.output
    assert not (root / "metrics").exists()


def test_unknown_slice_column_names_the_nearest(tmp_path):
    root = train_project(tmp_path, evaluate={"slices": ["regoin"]})
    with pytest.raises(ConfigError, match="regoin") as info:
        _run(root)
    assert "'region'" in info.value.hint
    result = runner.invoke(app, ["evaluate", "-C", str(root)])
    assert result.exit_code == 2
    assert not (root / "metrics").exists()  # nothing half-written


def test_unknown_fairness_metric_is_a_config_error(tmp_path):
    root = train_project(tmp_path, evaluate={"sensitive": "group", "fairness_metric": "rmse"})
    with pytest.raises(ConfigError, match="rmse"):
        _run(root)


def test_cli_missing_model_exits_3_with_hint(tmp_path):
    root = train_project(tmp_path)
    (root / "models/model.skops").unlink()
    result = runner.invoke(app, ["evaluate", "-C", str(root)])
    assert result.exit_code == 3
    assert "mlctl train" in result.output


def test_cli_prints_the_metric_table(tmp_path):
    root = train_project(tmp_path)
    result = runner.invoke(app, ["evaluate", "-C", str(root)])
    assert result.exit_code == 0, result.output
    for text in ("metric", "baseline", "95% CI", "roc_auc", "log_loss"):
        assert text in result.output
    as_json = runner.invoke(app, ["evaluate", "-C", str(root), "--json"])
    assert json.loads(as_json.stdout)["metrics"]["model"]["accuracy"] > 0.7
