"""`mlctl init` chooses candidates and the search by the data's size (mlctl.stages.init.sizing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from test_train import project, train_at

from mlctl.params import parse_params
from mlctl.stages.init import analyse, plan
from mlctl.stages.init.sizing import LARGE_DATA, MAX_MODEL_MB, SMALL_SPACES, plan_search


def frame(n: int = 400, seed: int = 0, task: str = "classification") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    df["plan"] = rng.choice(["basic", "plus", "pro"], n)
    df.loc[rng.random(n) < 0.02, "x1"] = np.nan
    z = df.x0 - df.x2.fillna(0) + (df.plan == "pro") + rng.normal(0, 0.5, n)
    df["y"] = np.where(z > 0, "yes", "no") if task == "classification" else z
    return df


def rendered(tmp_path, task: str = "classification", **kwargs) -> dict:
    """params.yaml as init writes it for a small generated frame, validated the way init validates it."""
    path = tmp_path / "data.csv"
    frame(task=task).to_csv(path, index=False)
    a = analyse(path, "y")
    text = plan.render(
        target_name="y",
        target=a.target_info,
        roles=a.roles,
        source_name="data",
        source_path="data/sources/data.csv",
        rows=a.rows,
        **kwargs,
    )
    params = yaml.safe_load(text)
    parse_params(params)
    return {"text": text, **params}


def test_small_data_gets_a_bounded_random_forest_and_random_search(tmp_path):
    params = rendered(tmp_path)
    train = params["train"]
    assert train["candidates"] == ["logistic_regression", "random_forest"]
    forest = train["spaces"]["random_forest"]
    assert None not in forest["max_depth"] and max(forest["max_depth"]) <= 10
    assert max(forest["n_estimators"]) <= 100
    assert train["search"]["method"] == "random" and train["search"]["budget_s"] > 0
    assert params["gate"]["max_model_mb"] == MAX_MODEL_MB
    assert "minute or two" not in params["text"]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_above_the_threshold_histogram_boosting_and_successive_halving(tmp_path, task):
    params = rendered(tmp_path, task=task, large_rows=100)  # 400 rows count as large here
    train = params["train"]
    linear = "logistic_regression" if task == "classification" else "ridge"
    assert train["candidates"] == [linear, "hist_gradient_boosting"]
    boost = train["spaces"]["hist_gradient_boosting"]
    assert max(boost["max_leaf_nodes"]) <= 63 and max(boost["max_iter"]) <= 200
    assert train["search"]["method"] == "halving_random" and train["search"]["cv"] == 2
    assert len(next(iter(train["spaces"][linear].values()))) == 1  # the linear model at one setting
    assert "400 rows (>= 100)" in params["text"]


def test_the_threshold_is_the_documented_constant():
    assert plan_search("classification", LARGE_DATA - 1).candidates[1] == "random_forest"
    assert plan_search("classification", LARGE_DATA).candidates[1] == "hist_gradient_boosting"
    assert plan_search("regression", LARGE_DATA, quick=True).spaces["hist_gradient_boosting"]["max_iter"] == [50]


def test_the_large_data_plan_trains_and_stays_under_the_size_limit(tmp_path):
    train = rendered(tmp_path, large_rows=100)["train"]
    root = project(
        tmp_path,
        n=600,
        candidates=train["candidates"],
        spaces=train["spaces"],
        search={**train["search"], "n_jobs": 1, "n_iter": 3, "cv": 2},
    )
    report = train_at(root).report
    assert report["search"]["method"] == "halving_random"
    assert [c["name"] for c in report["candidates"]] == ["logistic_regression", "hist_gradient_boosting"]
    assert all(c["draws"] >= 1 for c in report["candidates"])
    assert (root / "models" / "model.skops").stat().st_size < MAX_MODEL_MB * 1_000_000


def test_the_largest_small_data_forest_stays_far_under_the_size_limit(tmp_path):
    """The biggest setting of the small-data forest space, on more rows than it is chosen for."""
    from mlctl.core.fileio import save_skops
    from mlctl.model.estimators import build_pipeline
    from mlctl.model.features import infer_features, to_model_frame
    from mlctl.params.train import PreprocessParams

    df = frame(n=LARGE_DATA, seed=1)
    features = infer_features(df, "y")
    biggest = {k: max(v) for k, v in SMALL_SPACES["random_forest"].items() if k != "min_samples_leaf"}
    pipe = build_pipeline("random_forest", "classification", features, PreprocessParams(), 0, **biggest)
    pipe.set_params(model__min_samples_leaf=1, model__n_jobs=2)
    pipe.fit(to_model_frame(df, features), df["y"].to_numpy(dtype=object))
    size = save_skops(pipe, tmp_path / "model.skops").stat().st_size
    assert size < 0.5 * MAX_MODEL_MB * 1_000_000, size
