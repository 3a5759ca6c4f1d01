"""`mlctl train`: search, refit, artifacts, reproducibility, errors and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_frame
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_DATA_INVALID, EXIT_NOT_FOUND, EXIT_USAGE, ConfigError, DataError
from mlctl.core.fileio import load_skops
from mlctl.core.project import Project
from mlctl.model.features import Feature, to_model_frame
from mlctl.params import parse_params
from mlctl.stages.train import run

runner = CliRunner()
FAST = {"cv": 2, "n_iter": 2, "n_jobs": 1}


def processed_frame(task: str, n: int, seed: int = 0, n_classes: int = 2) -> pd.DataFrame:
    """make_frame with its datetime expanded the way prepare does it."""
    df = make_frame(task, n, seed, n_classes=n_classes)
    df["signup_month"] = df.pop("signup").dt.month
    return df


def project(tmp_path: Path, task: str = "classification", n: int = 240, n_classes: int = 2, **train) -> Path:
    """A project with data/processed/{train,validation,test}.parquet and a train section."""
    root = tmp_path / "proj"
    processed = root / "data" / "processed"
    processed.mkdir(parents=True)
    df = processed_frame(task, n, n_classes=n_classes)
    n_train, n_val = int(n * 0.7), int(n * 0.15)
    df.iloc[:n_train].to_parquet(processed / "train.parquet", index=False)
    df.iloc[n_train : n_train + n_val].to_parquet(processed / "validation.parquet", index=False)
    df.iloc[n_train + n_val :].to_parquet(processed / "test.parquet", index=False)
    train.setdefault("candidates", ["logistic_regression"] if task == "classification" else ["ridge"])
    train["search"] = {**FAST, **train.get("search", {})}
    params = {
        "seed": 0,
        "target": "target",
        "task": task,
        "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
        "train": train,
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def train_at(root: Path, **kwargs):
    params = parse_params(yaml.safe_load((root / "params.yaml").read_text()))
    return run(params.train, params.common, Project(root), **kwargs)


def test_binary_random_search_with_two_candidates(tmp_path):
    root = project(
        tmp_path,
        candidates=["logistic_regression", "random_forest"],
        spaces={"random_forest": {"n_estimators": [10, 20], "max_depth": [3, None]}},
        forbidden=["region"],
    )
    result = train_at(root)
    report = json.loads((root / "models" / "train.json").read_text())
    assert report == json.loads(json.dumps(result.report))
    assert report["task"] == "classification" and report["target"] == "target"
    assert report["classes"] == ["no", "yes"]
    assert report["scoring"] == "roc_auc"
    names = [f["name"] for f in report["features"]]
    assert "target" not in names and "region" not in names
    assert {f["name"]: f["kind"] for f in report["features"]}["colour"] == "categorical"
    assert {f["name"]: f["kind"] for f in report["features"]}["flag"] == "numeric"
    assert [c["name"] for c in report["candidates"]] == ["logistic_regression", "random_forest"]
    best = max(report["candidates"], key=lambda c: c["cv_mean"])
    assert report["best"] == {"candidate": best["name"], "params": best["best_params"], "cv_score": best["cv_mean"]}
    assert all(c["n_fits"] == 2 * 2 for c in report["candidates"])  # n_iter=2 draws x cv=2
    assert report["search"] == {
        "method": "random",
        "cv": 2,
        "n_iter": 2,
        "backend": "loky",
        "budget_s": None,
        "draws": 4,
        "skipped_for_budget": 0,
    }
    assert report["train_rows"] == 168 and report["fit_rows"] == 168 + 36
    assert report["refit_on"] == ["train", "validation"]
    assert len(report["data_hash"]) == 64
    assert report["packages"]["sklearn"] and report["packages"]["mlctl"]
    assert report["excluded"]["forbidden"] == ["region"]

    results = pd.read_csv(root / "models" / "search_results.csv")
    assert len(results) == 4 and set(results["candidate"]) == {"logistic_regression", "random_forest"}
    assert {"params", "mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time"} <= set(results.columns)
    rf_params = [json.loads(p) for p in results.loc[results.candidate == "random_forest", "params"]]
    assert all(set(p) == {"n_estimators", "max_depth"} for p in rf_params)

    model = load_skops(root / "models" / "model.skops")
    assert type(model.named_steps["model"]).__name__ == (
        "LogisticRegression" if best["name"] == "logistic_regression" else "RandomForestClassifier"
    )
    test = pd.read_parquet(root / "data" / "processed" / "test.parquet")
    X = to_model_frame(test, [Feature(**f) for f in report["features"]])
    assert (model.predict(X) == test["target"].to_numpy()).mean() > 0.75  # a learnable target is learnt
    baseline = load_skops(root / "models" / "baseline.skops")
    assert len(set(baseline.predict(X))) == 1  # the trivial baseline predicts the majority class


def test_multiclass_halving_random_defaults_to_f1_macro(tmp_path):
    root = project(
        tmp_path,
        n=360,
        n_classes=3,
        candidates=["random_forest"],
        spaces={"random_forest": {"n_estimators": [5, 10], "max_depth": [2, 4, None]}},
        search={"method": "halving", "n_iter": 6},  # "halving" is halving_random
    )
    report = train_at(root).report
    assert report["scoring"] == "f1_macro" and report["search"]["method"] == "halving_random"
    assert report["classes"] == ["c0", "c1", "c2"]
    results = pd.read_csv(root / "models" / "search_results.csv")
    assert {"iter", "n_resources"} <= set(results.columns)
    assert results["iter"].max() >= 1  # successive halving ran more than one round
    assert report["candidates"][0]["n_fits"] == len(results) * 2


def test_regression_grid_and_halving_grid(tmp_path):
    root = project(
        tmp_path,
        "regression",
        n=300,
        candidates=["ridge", "linear_regression"],
        spaces={"ridge": {"alpha": [0.1, 1.0, 10.0]}},
        search={"method": "grid"},
    )
    report = train_at(root).report
    assert report["scoring"] == "neg_root_mean_squared_error" and report["classes"] is None
    by_name = {c["name"]: c for c in report["candidates"]}
    assert by_name["ridge"]["n_fits"] == 3 * 2 and by_name["linear_regression"]["n_fits"] == 1 * 2
    assert all(c["cv_mean"] < 0 for c in report["candidates"])  # neg RMSE: bigger (closer to 0) is better
    model = load_skops(root / "models" / "model.skops")
    assert type(model.named_steps["model"]).__name__ in {"Ridge", "LinearRegression"}

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["search"]["method"] = "halving_grid"
    params["train"]["candidates"] = ["ridge"]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    assert train_at(root).report["search"]["method"] == "halving_grid"


def test_random_search_n_iter_is_capped_at_the_grid_size(tmp_path):
    root = project(tmp_path, spaces={"logistic_regression": {"C": [0.1, 1.0]}}, search={"n_iter": 50})
    report = train_at(root).report
    assert report["candidates"][0]["n_fits"] == 2 * 2


def test_training_twice_gives_identical_predictions(tmp_path):
    root = project(
        tmp_path,
        candidates=["random_forest"],
        spaces={"random_forest": {"n_estimators": [5, 10], "max_features": ["sqrt", 0.5]}},
    )
    test = pd.read_parquet(root / "data" / "processed" / "test.parquet")
    first = train_at(root).report
    model = load_skops(root / "models" / "model.skops")
    proba1 = model.predict_proba(to_model_frame(test, [Feature(**f) for f in first["features"]]))
    second = train_at(root).report
    model2 = load_skops(root / "models" / "model.skops")
    proba2 = model2.predict_proba(to_model_frame(test, [Feature(**f) for f in second["features"]]))
    assert first["best"] == second["best"]
    assert np.array_equal(proba1, proba2)


def test_refit_on_train_only_when_asked(tmp_path):
    root = project(tmp_path, refit_on_validation=False)
    report = train_at(root).report
    assert report["fit_rows"] == report["train_rows"] and report["refit_on"] == ["train"]


def test_forbidden_and_personal_columns_are_never_features(tmp_path):
    root = project(tmp_path, forbidden=["colour"])
    report = train_at(root, personal_data=["region"]).report
    names = {f["name"] for f in report["features"]}
    assert not names & {"colour", "region", "target"}
    assert report["excluded"] == {"forbidden": ["colour"], "personal": ["region"]}


def test_asking_for_a_forbidden_or_personal_feature_is_a_config_error(tmp_path):
    root = project(tmp_path, features=["x1", "colour"], forbidden=["colour"])
    with pytest.raises(ConfigError, match="colour"):
        train_at(root)
    root2 = project(tmp_path / "b", features=["x1", "region"])
    with pytest.raises(ConfigError, match="personal"):
        train_at(root2, personal_data=["region"])
    assert not (root / "models").exists()


def test_explicit_features_and_forced_kinds(tmp_path):
    root = project(tmp_path, features=["x1", "count", "colour"], preprocess={"categorical_columns": ["count"]})
    report = train_at(root).report
    assert report["features"] == [
        {"name": "x1", "kind": "numeric"},
        {"name": "count", "kind": "categorical"},
        {"name": "colour", "kind": "categorical"},
    ]


@pytest.mark.parametrize(
    ("train", "match"),
    [
        ({"spaces": {"logistic_regression": {"Cc": [1.0]}}}, r"train\.spaces\.logistic_regression\.Cc"),
        ({"spaces": {"logistic_regression": {"C": []}}}, r"non-empty list"),
        ({"spaces": {"logistic_regression": {"C": ["big"]}}}, r"invalid value 'big'"),
        ({"search": {"scoring": "roc_aucc"}}, r"unknown scoring 'roc_aucc'"),
        ({"candidates": ["random_forrest"]}, r"did you mean 'random_forest'"),
        ({"candidates": ["linear_regression"]}, r"does not do classification"),
    ],
)
def test_bad_config_is_a_config_error_before_any_output(tmp_path, train, match):
    root = project(tmp_path, **train)
    with pytest.raises(ConfigError, match=match) as info:
        train_at(root)
    if "Cc" in str(train):
        assert "valid parameters:" in info.value.hint and "C," in info.value.hint
    assert not (root / "models").exists()


def test_roc_auc_on_a_multiclass_target_is_refused(tmp_path):
    root = project(tmp_path, n=300, n_classes=3, search={"scoring": "roc_auc"})
    with pytest.raises(ConfigError, match="binary"):
        train_at(root)


def test_single_class_target_is_a_data_error(tmp_path):
    root = project(tmp_path)
    path = root / "data" / "processed" / "train.parquet"
    df = pd.read_parquet(path)
    df["target"] = "yes"
    df.to_parquet(path, index=False)
    with pytest.raises(DataError, match="single class"):
        train_at(root)
    result = runner.invoke(app, ["train", "-C", str(root)])
    assert result.exit_code == EXIT_DATA_INVALID, result.output


def test_cli_errors_have_exit_codes_and_hints(tmp_path):
    root = project(tmp_path, candidates=["random_forrest"])
    result = runner.invoke(app, ["train", "-C", str(root)])
    assert result.exit_code == EXIT_USAGE
    assert "did you mean 'random_forest'" in result.output

    root2 = project(tmp_path / "b")
    (root2 / "data" / "processed" / "train.parquet").unlink()
    result = runner.invoke(app, ["train", "-C", str(root2)])
    assert result.exit_code == EXIT_NOT_FOUND
    assert "mlctl prepare" in result.output

    root3 = project(tmp_path / "c", spaces={"logistic_regression": {"max_dept": [3]}})
    result = runner.invoke(app, ["train", "-C", str(root3), "--json"])
    assert result.exit_code == EXIT_USAGE
    assert "train.spaces.logistic_regression.max_dept" in result.output


def test_cli_train_prints_candidates_and_the_winner(tmp_path):
    root = project(tmp_path, candidates=["logistic_regression", "knn"], spaces={"knn": {"n_neighbors": [3, 5]}})
    result = runner.invoke(app, ["train", "-C", str(root)])
    assert result.exit_code == 0, result.output
    assert "logistic_regression" in result.output and "knn" in result.output
    assert "best:" in result.output and "±" in result.output
    result = runner.invoke(app, ["train", "-C", str(root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["best"]["candidate"] in {"logistic_regression", "knn"}
    assert Path(data["model"]).exists()


def test_cli_help():
    for args in (["train", "--help"], ["exp", "--help"], ["exp", "run", "--help"], ["exp", "show", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output


def test_dask_backend_finds_the_same_best_params_as_loky(tmp_path):
    pytest.importorskip("dask.distributed")
    space = {"random_forest": {"n_estimators": [5, 10], "max_depth": [2, None]}}
    loky = train_at(project(tmp_path / "a", candidates=["random_forest"], spaces=space, search={"method": "grid"}))
    dask = train_at(
        project(
            tmp_path / "b",
            candidates=["random_forest"],
            spaces=space,
            search={"method": "grid", "backend": "dask", "n_jobs": 2},
        )
    )
    assert dask.report["search"]["backend"] == "dask"
    assert dask.report["best"] == loky.report["best"]


def test_cli_excludes_columns_the_schema_marks_as_personal(tmp_path):
    pytest.importorskip("mlctl.data.schema")
    root = project(tmp_path)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["validate"] = {"schema_path": "data/schema.yaml", "personal_data": ["x2"]}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    schema = {
        "metadata": {"mlctl": {"personal_data": ["region"]}},
        "columns": {"colour": {"description": "personal data: a favourite colour"}, "x1": {"description": "x"}},
    }
    (root / "data" / "schema.yaml").write_text(yaml.safe_dump(schema))
    result = runner.invoke(app, ["train", "-C", str(root), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"colour", "region", "x2"}.isdisjoint(f["name"] for f in report["features"])
    assert sorted(report["excluded"]["personal"]) == ["colour", "region", "x2"]
