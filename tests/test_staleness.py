"""The staleness curve (ML Test Score M4): a model refitted k months back, scored on the newest month."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluate_helpers import train_project
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlctl.core.fileio import read_json, read_table, write_table
from mlctl.core.project import Project
from mlctl.params import load_params
from mlctl.params.evaluate import StalenessParams
from mlctl.stages import evaluate
from mlctl.stages.evaluate.staleness import curve, max_age

INFO = {
    "task": "classification",
    "target": "target",
    "features": [{"name": "x1", "kind": "numeric"}, {"name": "x2", "kind": "numeric"}],
    "classes": [0, 1],
}


def months(drifting: bool, rows: int = 150, n: int = 7, seed: int = 0) -> pd.DataFrame:
    """n months of rows; when ``drifting``, the label moves from x1 to x2 month by month."""
    rng = np.random.default_rng(seed)
    parts = []
    for m in range(n):
        x = rng.normal(size=(rows, 2))
        w = m / (n - 1) if drifting else 0.5
        y = ((1 - w) * x[:, 0] + w * x[:, 1] + rng.normal(scale=0.3, size=rows) > 0).astype(int)
        parts.append(pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "when_year": 2024, "when_month": m + 1, "target": y}))
    return pd.concat(parts, ignore_index=True)


def model():
    return make_pipeline(StandardScaler(), LogisticRegression())


def test_max_age_is_the_last_age_within_the_tolerance():
    points = [{"age_periods": k, "value": v} for k, v in ((1, 0.90), (2, 0.895), (3, 0.87), (4, 0.89))]
    assert max_age(points, "roc_auc", 0.01) == (2, True)
    assert max_age(points, "roc_auc", 0.05) == (4, False)
    errors = [{"age_periods": k, "value": v} for k, v in ((1, 1.0), (2, 1.2))]
    assert max_age(errors, "rmse", 0.1) == (1, True)  # an error metric drops by rising


def test_a_drifting_concept_gives_a_falling_curve_and_a_short_max_age():
    data = curve(model(), months(True), INFO, StalenessParams(time_column="when", tolerance=0.01), "roc_auc", 0)
    assert data["enabled"] and data["scored_on"] == "2024-07 .. 2024-07" and data["scored_rows"] == 150
    values = [p["value"] for p in data["points"]]
    assert len(values) == 4 and values[0] > values[-1] + 0.05
    assert data["dropped"] and data["max_age_periods"] < 4
    assert data["points"][0]["train_to"] == "2024-06" and data["points"][3]["train_to"] == "2024-03"
    assert data["max_age_days"] == pytest.approx(data["max_age_periods"] * 30.44, abs=0.1)


def test_a_stable_concept_holds_for_every_age():
    data = curve(model(), months(False), INFO, StalenessParams(time_column="when", tolerance=0.05), "roc_auc", 0)
    assert data["enabled"] and not data["dropped"] and data["max_age_periods"] == 4


def test_off_without_time_features_or_enough_rows():
    params = StalenessParams(time_column="when")
    assert "no when_year" in curve(model(), months(True).drop(columns="when_month"), INFO, params, "f1", 0)["reason"]
    small = curve(model(), months(True, rows=3), INFO, params, "f1", 0)
    assert not small["enabled"] and "fewer than 30 labelled rows in the newest year" in small["reason"]
    coarse = curve(model(), months(True, rows=12), INFO, params, "roc_auc", 0)  # 12 rows a month: 3-month periods
    assert coarse["period_months"] == 3 and coarse["scored_on"] == "2024-05 .. 2024-07" and coarse["scored_rows"] == 36
    assert [p["age_days"] for p in coarse["points"]] == [91.3]  # 4 months of older data: one older period
    assert not curve(model(), months(True), INFO, StalenessParams(), "f1", 0)["enabled"]


def test_evaluate_writes_the_curve_the_plot_and_the_card_section(tmp_path):
    root = train_project(tmp_path / "p", evaluate={"staleness": {"time_column": "when", "tolerance": 0.01}})
    rng = np.random.default_rng(1)
    for split in ("train", "validation", "test"):
        path = root / "data/processed" / f"{split}.parquet"
        df = read_table(path)
        df["when_year"], df["when_month"] = 2024, rng.integers(1, 7, len(df))
        write_table(df, path)
    params = load_params(root / "params.yaml")
    result = evaluate.run(params.evaluate, params.common, Project(root))
    data = read_json(root / "metrics/staleness.json")
    assert data == result.staleness and data["enabled"] and data["metric"] == "roc_auc"
    assert len(read_table(root / "plots/staleness.csv")) == len([p for p in data["points"] if p["value"] is not None])
    card = (root / "reports/model_card.md").read_text()
    assert "## Staleness" in card and f"**Maximum model age: {data['max_age_days']:g} days**" in card


def test_evaluate_without_a_time_column_says_so(tmp_path):
    root = train_project(tmp_path / "p")
    params = load_params(root / "params.yaml")
    evaluate.run(params.evaluate, params.common, Project(root))
    assert read_json(root / "metrics/staleness.json")["enabled"] is False
    assert "Not measured: no time column" in (root / "reports/model_card.md").read_text()
    assert list(read_table(root / "plots/staleness.csv").columns) == ["age_periods", "age_days", "value"]
