"""`mlctl export`: every registry estimator converts to ONNX with parity; manifest, checks and failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from export_helpers import fit, model_frame, write_trained_project
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import InputNotFoundError, ModelError
from mlctl.core.fileio import load_skops, sha256_file
from mlctl.model.estimators import REGISTRY
from mlctl.params.export import ExportParams
from mlctl.params.train import PreprocessParams
from mlctl.stages.export import Trained, export_model

runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP estimators (HistGradientBoosting) crawl when their threads fight over 2 shared cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


CASES = [
    (task, n_classes, name)
    for task, n_classes in (("classification", 2), ("classification", 3), ("regression", None))
    for name, spec in REGISTRY.items()
    if (spec.classifier if task == "classification" else spec.regressor) is not None
]


def _split(task: str, n_classes: int | None, seed: int = 0):
    df = model_frame(task, n=400, seed=seed, n_classes=n_classes or 2)
    train, test = df.iloc[:300].reset_index(drop=True), df.iloc[300:].reset_index(drop=True)
    # The test split also holds what training never saw: an unknown category, NaN everywhere numeric.
    test.loc[0, "colour"] = "purple"
    test.loc[1, "region"] = None
    test.loc[2, ["x1", "x2", "count"]] = np.nan
    return train, test


def _export(name, task, train, test, prep=None, **params):
    from mlctl.model.features import to_model_frame

    pipe, features = fit(name, task, train, prep)
    classes = [str(c) for c in pipe.classes_] if task == "classification" else None
    trained = Trained(pipe, features, task, "target", classes, {})
    data, manifest = export_model(
        trained, to_model_frame(train, features), to_model_frame(test, features), ExportParams(**params)
    )
    return pipe, features, data, manifest


@pytest.mark.parametrize(("task", "n_classes", "name"), CASES, ids=[f"{t}{c or ''}-{n}" for t, c, n in CASES])
def test_every_registry_estimator_exports_with_parity(task, n_classes, name):
    train, test = _split(task, n_classes)
    pipe, features, data, manifest = _export(name, task, train, test)
    parity = manifest["parity"]
    assert parity["passed"] and parity["rows"] == len(test)
    assert parity["max_scaled_diff"] < 1e-5, parity
    if task == "classification":
        assert parity["label_agreement"] == 1.0
        assert manifest["classes"] == sorted(set(train["target"]))
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    # Independently of mlctl.onnxmodel.parity: raw onnxruntime on the rows with NaN and the unseen category.
    from mlctl.model.features import to_model_frame

    X = to_model_frame(test.iloc[:3], features)
    feeds = {f.name: X[f.name].to_numpy(np.float32 if f.kind == "numeric" else object).reshape(-1, 1) for f in features}
    out = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    if task == "regression":
        np.testing.assert_allclose(out[0].ravel(), pipe.predict(X), rtol=1e-5, atol=1e-5)
    else:
        assert [str(v) for v in out[0]] == [str(v) for v in pipe.predict(X)]


@pytest.mark.parametrize("name", ["logistic_regression", "hist_gradient_boosting"])
def test_ordinal_encoding_exports_with_parity(name):
    train, test = _split("classification", 3)
    *_, manifest = _export(name, "classification", train, test, PreprocessParams(categorical_encoding="ordinal"))
    assert manifest["parity"]["passed"] and manifest["parity"]["label_agreement"] == 1.0


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_hist_gradient_boosting_native_missing_values(kind):
    """NaN goes where scikit-learn sends it (nodes_missing_value_tracks_true), not through an imputer."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from mlctl.stages.export import onnx_fixes

    onnx_fixes.register()
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 4)).astype(np.float32)
    X[rng.random(X.shape) < 0.15] = np.nan
    signal = np.nan_to_num(X[:, 0]) + 1.5 * np.isnan(X[:, 1])  # missingness itself is predictive
    if kind == "regression":
        est, y = HistGradientBoostingRegressor(max_iter=30, random_state=0), signal
    else:
        y = signal > 0.5 if kind == "binary" else np.digitize(signal, [-0.5, 0.7])
        est = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    est.fit(X, y)
    options = {id(est): {"zipmap": False}} if kind != "regression" else None
    model = convert_sklearn(est, initial_types=[("X", FloatTensorType([None, 4]))], options=options)
    out = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": X})
    if kind == "regression":
        np.testing.assert_allclose(out[0].ravel(), est.predict(X), atol=1e-5)
    else:
        assert (out[0] == est.predict(X)).all()
        np.testing.assert_allclose(out[1], est.predict_proba(X), atol=1e-6)


def test_hist_gradient_boosting_thresholds_match_float64_comparison():
    """Two adjacent float32 values split by a float64 midpoint that rounds (to nearest) onto the larger."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mlctl.stages.export import onnx_fixes

    onnx_fixes.register()
    a = np.nextafter(np.float32(1.0), np.float32(2.0))  # odd mantissa: the midpoint rounds up to b
    b = np.nextafter(a, np.float32(2.0))
    X = np.array([[a], [b]] * 100, dtype=np.float32)
    est = HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=5).fit(X, np.array([0, 1] * 100))
    assert float(np.float32(est._predictors[0][0].nodes["num_threshold"][0])) == float(b)  # the trap is set
    model = convert_sklearn(
        est, initial_types=[("X", FloatTensorType([None, 1]))], options={id(est): {"zipmap": False}}
    )
    out = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": X[:2]})
    assert out[0].tolist() == est.predict(X[:2]).tolist() == [0, 1]


def test_export_writes_model_and_manifest(tmp_path: Path):
    root = write_trained_project(tmp_path, name="random_forest", n_classes=3)
    (root / "metrics").mkdir()
    (root / "metrics" / "evaluate.json").write_text(
        json.dumps({"model": {"accuracy": 0.9, "f1_macro": 0.8}, "baseline": {"accuracy": 0.4}, "rows": 100})
    )
    result = runner.invoke(app, ["export", "-C", str(root), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["estimator"] == "RandomForestClassifier" and summary["parity"]["passed"]

    onnx_path, manifest_path = root / "models" / "model.onnx", root / "models" / "model.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["sha256"] == sha256_file(onnx_path) == summary["sha256"]
    assert manifest["size_bytes"] == onnx_path.stat().st_size
    assert manifest["task"] == "classification" and manifest["classes"] == ["c0", "c1", "c2"]
    assert manifest["metrics"] == {"accuracy": 0.9, "f1_macro": 0.8, "rows": 100}
    assert manifest["parity"]["rows"] == 100 and manifest["parity"]["tolerance"] == 1e-4
    assert {"label_agreement", "max_abs_diff", "worst_row"} <= set(manifest["parity"])
    assert manifest["opset"] == manifest["opset_imports"]["ai.onnx"] >= 9
    assert set(manifest["packages"]) >= {"sklearn", "skl2onnx", "onnx", "onnxruntime", "mlctl"}
    assert manifest["train"]["estimator"] == "RandomForestClassifier" and manifest["data_hash"]
    assert [o["name"] for o in manifest["outputs"]] == ["label", "probabilities"]
    assert manifest["outputs"][1]["shape"] == [None, 3]
    # The input schema comes from the training split.
    train = pd.read_parquet(root / "data" / "processed" / "train.parquet")
    inputs = {i["name"]: i for i in manifest["inputs"]}
    assert list(inputs) == ["x1", "x2", "count", "flag", "colour", "region"]
    assert inputs["colour"]["categories"] == sorted(train["colour"].dropna().unique())
    assert inputs["colour"]["nullable"] is True and inputs["x1"]["nullable"] is False
    assert inputs["x2"]["nullable"] is True and inputs["count"]["max"] == float(train["count"].max())
    assert inputs["flag"]["onnx_type"] == "tensor(float)" and inputs["region"]["onnx_type"] == "tensor(string)"

    model = onnx.load(onnx_path)
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["mlctl.features"])[4] == {"name": "colour", "kind": "categorical"}
    assert meta["mlctl.task"] == "classification" and json.loads(meta["mlctl.classes"]) == ["c0", "c1", "c2"]
    assert meta["mlctl.data_hash"] == manifest["data_hash"]
    assert json.loads(meta["mlctl.metrics"])["accuracy"] == 0.9
    assert meta["mlctl.model_version"] == manifest["version"] and meta["mlctl.mlctl_version"]

    # The runtime loads what export wrote and scores a record.
    from mlctl.onnxmodel.runtime import OnnxModel

    loaded = OnnxModel.load(onnx_path, manifest_path)
    record = {"x1": 0.5, "x2": None, "count": 3, "flag": True, "colour": "red", "region": "north"}
    checked = loaded.check_records([record])
    assert checked.ok.all()
    assert loaded.run(checked.feeds).labels[0] in {"c0", "c1", "c2"}


def test_export_regression_manifest_and_table_output(tmp_path: Path):
    root = write_trained_project(tmp_path, name="ridge", task="regression")
    result = runner.invoke(app, ["export", "-C", str(root)])
    assert result.exit_code == 0, result.output
    assert "max values diff" in result.stdout and "wrote models/model.onnx" in result.stdout
    manifest = json.loads((root / "models" / "model.json").read_text())
    assert manifest["classes"] is None and manifest["parity"]["label_agreement"] is None
    assert manifest["outputs"][0]["name"] == "variable" and manifest["outputs"][0]["type"] == "values"


def test_schema_covers_validation_when_the_model_was_refit_on_it(tmp_path: Path):
    from mlctl.core.fileio import read_json, write_json, write_table

    root = write_trained_project(tmp_path)
    validation = model_frame(n=40, seed=5)
    validation.loc[0, "region"] = "centre"
    write_table(validation, root / "data" / "processed" / "validation.parquet")
    report = read_json(root / "models" / "train.json")
    write_json(root / "models" / "train.json", {**report, "refit_on": ["train", "validation"]})
    assert runner.invoke(app, ["export", "-C", str(root)]).exit_code == 0
    inputs = {i["name"]: i for i in json.loads((root / "models" / "model.json").read_text())["inputs"]}
    assert "centre" in inputs["region"]["categories"]


def test_forest_vote_ties_do_not_count_as_disagreements():
    """100 trees: 50/100 votes tie; float32 sums in ONNX may break the tie the other way."""
    df = model_frame(n=1000)
    train, test = df.iloc[:700].reset_index(drop=True), df.iloc[700:].reset_index(drop=True)
    # SMALL's 10 shallow trees rarely tie; a default-size forest does.
    pipe, features = fit("random_forest", "classification", train, n_estimators=100, max_depth=None)
    from mlctl.model.features import to_model_frame

    trained = Trained(pipe, features, "classification", "target", ["no", "yes"], {})
    _, manifest = export_model(trained, to_model_frame(train, features), to_model_frame(test, features), ExportParams())
    p = manifest["parity"]
    assert p["passed"] and p["disagreements"] == 0
    assert p["tied_disagreements"] == round((1 - p["label_agreement"]) * p["rows"])


def test_tie_detection_only_forgives_ties():
    from mlctl.onnxmodel.parity import _tied

    classes = np.array(["a", "b", "c"])
    scores = np.array([[0.5, 0.5, 0.0], [0.6, 0.4, 0.0], [0.2, 0.4, 0.4]])
    ref, got = np.array(["a", "a", "b"]), np.array(["b", "b", "c"])
    assert _tied(np.ones(3, bool), ref, got, classes, scores, 1e-6).tolist() == [True, False, True]
    binary = np.array([[0.0], [0.3]])  # decision scores: a tie sits at 0
    assert _tied(np.ones(2, bool), ref[:2], got[:2], classes[:2], binary, 1e-6).tolist() == [True, False]


def test_binary_decision_scores_declare_one_column(tmp_path: Path):
    """RidgeClassifier has no probabilities: its binary score is one column, declared as such."""
    train, test = _split("classification", 2)
    *_, manifest = _export("ridge", "classification", train, test)
    assert manifest["outputs"][1]["type"] == "decision scores" and manifest["outputs"][1]["shape"] == [None, 1]
    assert manifest["parity"]["outputs"] == "decision scores"


def test_tampered_model_is_refused(tmp_path: Path):
    from mlctl.onnxmodel.runtime import OnnxModel

    root = write_trained_project(tmp_path)
    assert runner.invoke(app, ["export", "-C", str(root)]).exit_code == 0
    path = root / "models" / "model.onnx"
    OnnxModel.load(path)  # intact: loads
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        OnnxModel.load(path)


def test_unconvertible_estimator_is_a_clear_model_error(tmp_path: Path):
    """A pipeline step skl2onnx has no converter for: exit 8 naming it, no traceback, nothing written."""
    from sklearn.kernel_approximation import Nystroem
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import Pipeline

    from mlctl.model.features import to_model_frame

    train = model_frame()
    pipe, features = fit("logistic_regression", "classification", train)
    X, y = to_model_frame(train, features), train["target"].to_numpy(dtype=object)
    for odd, named in (
        (Pipeline([("preprocess", pipe[0]), ("model", NearestCentroid())]), "NearestCentroid"),
        (Pipeline([("preprocess", pipe[0]), ("kernel", Nystroem(n_components=5)), ("model", pipe[-1])]), "Nystroem"),
    ):
        odd.fit(X, y)
        root = write_trained_project(tmp_path / named, pipeline=odd)
        result = runner.invoke(app, ["export", "-C", str(root)])
        assert result.exit_code == 8, result.output
        assert named in result.stderr and "no ONNX converter" in result.stderr
        assert "logistic_regression" in result.stderr  # a convertible alternative is suggested
        assert "Traceback" not in result.output + result.stderr
        assert not (root / "models" / "model.onnx").exists() and not (root / "models" / "model.json").exists()


def test_parity_failure_writes_nothing_and_keeps_the_old_model(tmp_path: Path):
    root = write_trained_project(tmp_path, export={"tolerance": 1e-4})
    assert runner.invoke(app, ["export", "-C", str(root)]).exit_code == 0
    before = {p: p.read_bytes() for p in (root / "models").glob("model.*")}
    # float32 arithmetic cannot reach 1e-13: the real parity check must refuse.
    (root / "params.yaml").write_text((root / "params.yaml").read_text().replace("0.0001", "1.0e-13"))
    result = runner.invoke(app, ["export", "-C", str(root)])
    assert result.exit_code == 8, result.output
    assert "does not reproduce" in result.stderr and "tolerance 1e-13" in result.stderr and "row" in result.stderr
    assert {p: p.read_bytes() for p in (root / "models").glob("model.*")} == before
    assert not list((root / "models").glob(".*tmp"))


def test_missing_inputs_exit_3(tmp_path: Path):
    root = write_trained_project(tmp_path)
    (root / "models" / "model.skops").unlink()
    result = runner.invoke(app, ["export", "-C", str(root)])
    assert result.exit_code == 3 and "model.skops" in result.stderr
    root2 = write_trained_project(tmp_path / "b")
    (root2 / "data" / "processed" / "test.parquet").unlink()
    result = runner.invoke(app, ["export", "-C", str(root2), "--json"])
    assert result.exit_code == 3 and json.loads(result.stdout)["where"].endswith("test.parquet")


def test_stale_or_mismatched_model_is_refused(tmp_path: Path):
    from mlctl.core.fileio import read_table, write_table
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.stages.export import run

    root = write_trained_project(tmp_path)
    project, params = Project(root), ExportParams()
    with pytest.raises(ModelError, match="trained for classification"):
        run(params, Common(target="target", task="regression"), project)
    train = read_table(root / "data" / "processed" / "train.parquet")
    write_table(train.iloc[:-1], root / "data" / "processed" / "train.parquet")
    with pytest.raises(ModelError, match="train split changed"):
        run(params, Common(target="target"), project)
    assert not (root / "models" / "model.onnx").exists()


def test_library_errors_name_the_estimator():
    from sklearn.isotonic import IsotonicRegression

    from mlctl.stages.export.convert import to_onnx, unsupported_steps

    train = model_frame()
    pipe, features = fit("knn", "classification", train)
    assert unsupported_steps(pipe) == []
    assert unsupported_steps(IsotonicRegression()) == ["IsotonicRegression"]
    with pytest.raises(ModelError, match="IsotonicRegression"):
        to_onnx(IsotonicRegression().fit([1.0, 2.0], [1.0, 2.0]), features)
    with pytest.raises(InputNotFoundError):
        load_skops("/nonexistent/model.skops")


def test_cli_help_lists_export_and_explain():
    result = runner.invoke(app, ["--help"])
    assert "export" in result.stdout and "explain" in result.stdout
    result = runner.invoke(app, ["export", "--help"])
    assert result.exit_code == 0 and "parity" in result.stdout and "--json" in result.stdout


def test_onnx_model_over_the_gates_max_model_mb_is_refused(tmp_path: Path):
    from mlctl.core.fileio import write_json

    root = write_trained_project(tmp_path, name="random_forest")
    rule = {"rule": "model_size", "metric": None, "value": 0.01, "limit": 0.001, "passed": False}
    write_json(root / "reports" / "gate.json", {"passed": False, "rules": [rule]})
    result = runner.invoke(app, ["export", "-C", str(root)])
    assert result.exit_code == 5, result.output  # the gate's exit code: the same rule, on the ONNX model
    assert "exported ONNX model is" in result.stderr and "limit 0.001 MB" in result.stderr
    assert not (root / "models" / "model.onnx").exists()
    rule["limit"] = 50
    write_json(root / "reports" / "gate.json", {"passed": True, "rules": [rule]})
    assert runner.invoke(app, ["export", "-C", str(root)]).exit_code == 0
    assert (root / "models" / "model.onnx").stat().st_size < 50_000_000


def test_parity_is_checked_on_a_seeded_sample_of_a_large_split(tmp_path: Path):
    import pandas as pd
    import yaml

    root = write_trained_project(tmp_path, name="random_forest", n_classes=3)
    test_path = root / "data" / "processed" / "test.parquet"
    big = pd.concat([pd.read_parquet(test_path)] * 3, ignore_index=True)  # 300 rows
    big.to_parquet(test_path, index=False)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["export"] = {**(params.get("export") or {}), "parity_rows": 120}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    manifests = []
    for _ in range(2):
        result = runner.invoke(app, ["export", "-C", str(root), "--json"])
        assert result.exit_code == 0, result.output
        manifests.append(json.loads((root / "models" / "model.json").read_text())["parity"])
    assert manifests[0]["rows"] == 120 and manifests[0] == manifests[1]  # the same seeded rows each time


def test_input_schema_of_raw_rows_is_the_schema_of_their_model_frame():
    """Export passes the raw train + validation rows: categoricals are encoded value by value, so their levels
    come from the distinct values alone; the result equals the schema of the encoded frame."""
    import numpy as np
    import pandas as pd

    from mlctl.model.features import Feature, to_model_frame
    from mlctl.stages.export.convert import input_schema

    raw = pd.DataFrame(
        {
            "x": [1.5, None, 3.0, 2.0] * 50,
            "flag": [True, False, True, True] * 50,
            "colour": ["red", None, "", "blue"] * 50,
            "code": [1.0, 2.0, np.nan, 1.0] * 50,  # a float-coded categorical: 1.0 is the level "1"
            "size": pd.Series(["s", "m", None, "s"] * 50, dtype="category"),
        }
    )
    features = [Feature("x", "numeric"), Feature("flag", "numeric")]
    features += [Feature(c, "categorical") for c in ("colour", "code", "size")]
    assert input_schema(raw, features) == input_schema(to_model_frame(raw, features), features)
    by_name = {e["name"]: e for e in input_schema(raw, features)}
    assert by_name["code"]["categories"] == ["1", "2"] and by_name["code"]["nullable"] is True
    assert by_name["colour"]["categories"] == ["blue", "red"] and by_name["x"]["max"] == 3.0
