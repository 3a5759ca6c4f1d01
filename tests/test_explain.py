"""`mlctl explain`: one row through every pipeline step, the prediction, and ONNX's agreement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from export_helpers import fit, model_frame, write_trained_project
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.fileio import load_skops, save_skops
from mlctl.model.features import Feature, to_model_frame

runner = CliRunner()
RECORD = {"x1": 0.3, "x2": None, "count": 4, "flag": True, "colour": "purple", "region": "west"}


@pytest.fixture(autouse=True)
def _one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A project with a trained multiclass model, exported to ONNX."""
    root = write_trained_project(tmp_path_factory.mktemp("explain"), name="logistic_regression", n_classes=3)
    result = runner.invoke(app, ["export", "-C", str(root)])
    assert result.exit_code == 0, result.output
    return root


def _json(root: Path, *args: str) -> dict:
    result = runner.invoke(app, ["explain", "-C", str(root), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_row_of_the_test_split_step_by_step(exported: Path):
    data = _json(exported, "--row", "2")
    pipe = load_skops(exported / "models" / "model.skops")
    features = [Feature(**f) for f in json.loads((exported / "models" / "train.json").read_text())["features"]]
    test = pd.read_parquet(exported / "data" / "processed" / "test.parquet")
    X = to_model_frame(test.iloc[[2]], features)

    assert data["source"].endswith("test.parquet, row 2") and data["estimator"] == "LogisticRegression"
    assert [i["name"] for i in data["inputs"]] == [f.name for f in features]
    names = [s["name"] for s in data["steps"]]
    assert names == [
        "preprocess/numeric/impute",
        "preprocess/numeric/scale",
        "preprocess/categorical",
        "preprocess",
    ]
    onehot = data["steps"][2]
    assert "categorical__colour_red" in onehot["features"] and sum(onehot["values"]) == 2  # one level per column
    vector = data["feature_vector"]
    assert vector["features"] == list(pipe[:-1].get_feature_names_out())
    np.testing.assert_allclose(vector["values"], pipe[:-1].transform(X)[0])
    assert data["prediction"] == pipe.predict(X)[0]
    assert data["scores_kind"] == "probabilities"
    np.testing.assert_allclose(list(data["scores"].values()), pipe.predict_proba(X)[0])
    assert list(data["scores"]) == ["c0", "c1", "c2"]
    onnx = data["onnx"]
    assert onnx["agree"] is True and onnx["prediction"] == data["prediction"]
    assert onnx["max_abs_diff"] < 1e-5 and list(onnx["scores"]) == ["c0", "c1", "c2"]


def test_json_input_with_missing_and_unknown_values(exported: Path):
    data = _json(exported, "--json-input", json.dumps(RECORD))
    assert data["source"] == "--json-input"
    inputs = {i["name"]: i for i in data["inputs"]}
    assert inputs["x2"]["model_value"] is None and inputs["flag"]["model_value"] == 1.0
    impute = data["steps"][0]
    x2 = impute["values"][impute["features"].index("numeric__x2")]
    train = pd.read_parquet(exported / "data" / "processed" / "train.parquet")
    assert x2 == pytest.approx(float(np.float32(train["x2"].astype("float32").median())), rel=1e-6)
    onehot = data["steps"][2]
    colour = [
        v for f, v in zip(onehot["features"], onehot["values"], strict=True) if f.startswith("categorical__colour_")
    ]
    assert sum(colour) == 0  # the unseen 'purple' is ignored by the encoder, as in ONNX
    assert data["onnx"]["agree"] is True
    assert any("colour: unknown category" in w for w in data["warnings"])


def test_input_file_and_rich_tables(exported: Path, tmp_path: Path):
    path = tmp_path / "rows.csv"
    pd.DataFrame([RECORD, {**RECORD, "colour": "red", "x2": 5.0}]).to_csv(path, index=False)
    result = runner.invoke(app, ["explain", "-C", str(exported), "--input", str(path), "--row", "1"])
    assert result.exit_code == 0, result.output
    for text in (
        "input",
        "preprocess/numeric/scale",
        "feature vector",
        "categorical__colour_red",
        "prediction",
        "agrees",
    ):
        assert text in result.stdout, text


def test_without_an_onnx_model_only_scikit_learn_answers(tmp_path: Path):
    root = write_trained_project(tmp_path, name="random_forest", task="regression")
    data = _json(root, "--row", "0")
    assert data["onnx"] is None and data["scores"] is None and isinstance(data["prediction"], float)
    assert data["steps"][-1]["name"] == "preprocess"  # trees: impute, no scaling
    result = runner.invoke(app, ["explain", "-C", str(root), "--row", "0"])
    assert result.exit_code == 0 and "run `mlctl export`" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--row", "999"], 2, "out of range"),
        ([], 2, "--row N or --json-input"),
        (["--row", "0", "--json-input", "{}"], 2, "--row N or --json-input"),
        (["--json-input", "{not json"], 2, "not valid JSON"),
        (["--json-input", json.dumps({**RECORD, "colur": "red"})], 4, "unknown ['colur']"),
        (["--json-input", json.dumps({"x1": 1})], 4, "missing ['x2'"),
        (["--json-input", json.dumps({**RECORD, "x1": "abc"})], 4, "numeric"),
        (["--input", "nowhere.csv", "--row", "0"], 3, "nowhere.csv"),
    ],
)
def test_bad_requests(exported: Path, args, code, message):
    result = runner.invoke(app, ["explain", "-C", str(exported), *args])
    assert result.exit_code == code, result.output
    assert message in " ".join(result.stderr.split())  # rich wraps long lines


def test_stale_onnx_model_disagrees_and_exits_8(exported: Path, tmp_path: Path):
    """A model retrained after export: scikit-learn and the old ONNX file no longer agree."""
    root = tmp_path / "stale"
    shutil.copytree(exported, root)
    train = pd.read_parquet(root / "data" / "processed" / "train.parquet")
    retrained, _ = fit("logistic_regression", "classification", train, C=0.01)
    save_skops(retrained, root / "models" / "model.skops")
    result = runner.invoke(app, ["explain", "-C", str(root), "--row", "0", "--json"])
    assert result.exit_code == 8, result.output
    assert json.loads(result.stdout)["onnx"]["agree"] is False and "disagrees" in result.stderr


def test_tampered_onnx_model_is_refused(exported: Path, tmp_path: Path):
    root = tmp_path / "tampered"
    shutil.copytree(exported, root)
    with open(root / "models" / "model.onnx", "ab") as fh:
        fh.write(b"\0")
    result = runner.invoke(app, ["explain", "-C", str(root), "--row", "0"])
    assert result.exit_code == 8 and "sha256 mismatch" in result.stderr


def test_explain_help():
    result = runner.invoke(app, ["explain", "--help"])
    assert result.exit_code == 0 and "--json-input" in result.stdout and "--row" in result.stdout


def test_library_explains_a_pipeline_without_files():
    from mlctl.stages.explain import explain_row

    train = model_frame("classification", n_classes=2)
    pipe, features = fit("hist_gradient_boosting", "classification", train)
    result = explain_row(pipe, features, train.iloc[[5]], source="memory")
    assert result.onnx is None and result.prediction == pipe.predict(to_model_frame(train.iloc[[5]], features))[0]
    assert len(result.feature_vector.values) == pipe[:-1].transform(to_model_frame(train.iloc[[5]], features)).shape[1]
    assert [s.name for s in result.steps] == ["preprocess/numeric", "preprocess/categorical", "preprocess"]
