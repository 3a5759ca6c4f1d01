"""`mlctl predict` with the local engine: parity with scikit-learn, rejects, accounting, failures."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from predict_helpers import export_model, kill_mid_stream, make_predict_project, read_any, write_frame
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.project import Project
from mlctl.params import load_params
from mlctl.stages.predict import run

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    return {task: export_model(base / task, task) for task in ("classification", "regression")}


def invoke(root: Path, *args: str):
    return CliRunner().invoke(app, ["predict", *args, "-C", str(root)])


def flat(result) -> str:
    """CLI output without rich's line wrapping."""
    return result.output.replace("\n", "")


def check_parity(exported, df: pd.DataFrame, out: pd.DataFrame) -> None:
    labels, proba = exported.sklearn_predict(df.iloc[out["row_number"].to_numpy()])
    if exported.task == "classification":
        assert (out["prediction"].astype(str).to_numpy() == labels.astype(str)).all()
        got = out[[f"proba_{c}" for c in exported.manifest["classes"]]].to_numpy()
        np.testing.assert_allclose(got, proba, atol=1e-4)
    else:
        np.testing.assert_allclose(out["prediction"].to_numpy(), labels, atol=1e-4)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("ext", ["parquet", "csv", "jsonl"])
def test_predictions_match_sklearn_in_every_format(models, tmp_path, task, ext):
    exported = models[task]
    root = make_predict_project(tmp_path, exported, passthrough=["id"])
    df = exported.frame
    assert df["x2"].isna().any() and df["colour"].isna().any()  # missing values are scored, not rejected
    write_frame(df, root / f"data/in.{ext}")
    result = invoke(root, f"data/in.{ext}", f"out/p.{ext}", "--chunk-rows", "64")
    assert result.exit_code == 0, result.output
    out = read_any(root / f"out/p.{ext}")
    assert len(out) == len(df)
    assert out["row_number"].tolist() == list(range(len(df)))
    assert out["id"].tolist() == df["id"].tolist()
    check_parity(exported, df, out)
    manifest = json.loads((root / "out/p.manifest.json").read_text())
    assert manifest["rows_in"] == manifest["rows_scored"] == len(df) and manifest["rows_rejected"] == 0
    assert manifest["model"]["sha256"] == exported.manifest["sha256"]
    assert manifest["input"]["fingerprint"]["method"] == "content"
    assert (root / f"out/p.rejects.{ext}").exists()


def bad_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Rows 3, 10, 11 and 20 break the schema; the rest are fine."""
    bad = df.copy().astype({"x1": object, "count": object})
    bad.loc[3, "x1"] = None  # x1 is not nullable
    bad.loc[10, "count"] = "many"  # not a number
    bad.loc[11, "region"] = "moon"  # unknown category (rejected with unknown_category: reject)
    bad.loc[20, "x1"] = float("inf")
    return bad


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_bad_rows_go_to_rejects_with_reasons(models, tmp_path, ext):
    exported = models["classification"]
    root = make_predict_project(tmp_path, exported, unknown_category="reject", max_reject_share=0.5)
    df = bad_frame(exported.frame)
    write_frame(df, root / f"data/in.{ext}")
    result = invoke(root, f"data/in.{ext}", "out/p.parquet", "--passthrough", "id", "--chunk-rows", "8")
    assert result.exit_code == 0, result.output
    out = pd.read_parquet(root / "out/p.parquet")
    rejects = pd.read_parquet(root / "out/p.rejects.parquet")
    assert rejects["row_number"].tolist() == [3, 10, 11, 20]
    reasons = dict(zip(rejects["row_number"], rejects["reason"], strict=True))
    assert reasons[3] == "x1: missing value not allowed"
    assert reasons[10] == "count: expected a number"
    assert reasons[11] == "region: unknown category"
    # JSON has no infinity: pandas writes it as null
    assert reasons[20] == ("x1: infinite value not allowed" if ext == "csv" else "x1: missing value not allowed")
    assert rejects.set_index("row_number").loc[10, "count"] == "many"
    assert rejects.set_index("row_number").loc[11, "id"] == "r11"
    assert sorted(set(range(len(df))) - set(out["row_number"])) == [3, 10, 11, 20]
    check_parity(exported, exported.frame, out)
    manifest = json.loads((root / "out/p.manifest.json").read_text())
    assert manifest["rows_in"] == len(df) == manifest["rows_scored"] + manifest["rows_rejected"]
    assert manifest["rows_rejected"] == 4


def test_unknown_category_scored_as_scikit_learn_does_by_default(models, tmp_path):
    """predict.unknown_category: ignore → all zeros (OneHotEncoder handle_unknown="ignore"), not the missing level."""
    exported = models["classification"]
    root = make_predict_project(tmp_path, exported)
    df = exported.frame.head(50).copy()
    df.loc[5, "colour"] = "purple"
    for fmt in ("parquet", "csv"):
        write_frame(df, root / f"data/in.{fmt}")
        assert invoke(root, f"data/in.{fmt}", f"out/p.{fmt}.parquet").exit_code == 0
        out = pd.read_parquet(root / f"out/p.{fmt}.parquet")
        check_parity(exported, df, out)


def test_reject_threshold_fails_with_no_output(models, tmp_path):
    exported = models["classification"]
    root = make_predict_project(tmp_path, exported, unknown_category="reject", max_reject_share=0.01)
    write_frame(bad_frame(exported.frame), root / "data/in.csv")
    result = invoke(root, "data/in.csv", "out/p.csv")
    assert result.exit_code == 4, result.output
    assert "max_reject_share" in flat(result)
    assert not (root / "out").exists() or not any((root / "out").iterdir())


def test_run_raises_data_validation_error(models, tmp_path):
    from mlctl.core.errors import DataValidationError

    exported = models["regression"]
    root = make_predict_project(tmp_path, exported, input="data/in.parquet", output="out/p.parquet", max_reject_share=0)
    df = exported.frame.copy()
    df.loc[3, "x1"] = np.nan
    df.loc[20, "x1"] = np.inf
    write_frame(df, root / "data/in.parquet")
    params = load_params(root / "params.yaml")
    with pytest.raises(DataValidationError) as info:
        run(params.predict, params.common, Project(root))
    assert info.value.report["rows_rejected"] == 2
    assert not (root / "out").exists() or not any((root / "out").iterdir())


def test_defaults_come_from_params(models, tmp_path):
    exported = models["regression"]
    root = make_predict_project(tmp_path, exported)
    write_frame(exported.frame, root / "data/processed/test.parquet")
    result = invoke(root)
    assert result.exit_code == 0, result.output
    assert (root / "data/predictions/test.parquet").exists()
    assert (root / "data/predictions/test.rejects.parquet").exists()
    assert (root / "data/predictions/test.manifest.json").exists()


def test_directory_of_partitions_and_glob(models, tmp_path):
    exported = models["classification"]
    root = make_predict_project(tmp_path, exported, passthrough=["id"])
    df = exported.frame
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        write_frame(df.iloc[part], root / f"data/parts/part-{i}.parquet")
    (root / "data/parts/_SUCCESS").write_text("")
    assert invoke(root, "data/parts", "out/dir.parquet").exit_code == 0
    assert invoke(root, "data/parts/part-*.parquet", "out/glob.parquet").exit_code == 0
    whole = pd.read_parquet(root / "out/dir.parquet")
    assert whole["row_number"].tolist() == list(range(len(df)))
    assert whole["id"].tolist() == df["id"].tolist()
    pd.testing.assert_frame_equal(whole, pd.read_parquet(root / "out/glob.parquet"))
    check_parity(exported, df, whole)


def test_empty_inputs(models, tmp_path):
    exported = models["classification"]
    root = make_predict_project(tmp_path, exported, passthrough=["id"])
    write_frame(exported.frame.head(0), root / "data/empty.parquet")
    (root / "data/header.csv").write_text(",".join(exported.frame.columns) + "\n")
    (root / "data/zero.csv").write_text("")
    for src, dst in (("data/empty.parquet", "out/e.parquet"), ("data/header.csv", "out/h.csv")):
        result = invoke(root, src, dst)
        assert result.exit_code == 0, result.output
        assert len(read_any(root / dst)) == 0
        assert json.loads((root / dst).with_name(Path(dst).stem + ".manifest.json").read_text())["rows_in"] == 0
    columns = ["row_number", "id", "prediction", "proba_no", "proba_yes"]
    assert list(pd.read_parquet(root / "out/e.parquet").columns) == columns
    result = invoke(root, "data/zero.csv", "out/z.csv")
    assert result.exit_code == 4 and "empty" in flat(result)
    assert not (root / "out/z.csv").exists()


def test_unreadable_or_incomplete_input_fails_up_front(models, tmp_path):
    exported = models["classification"]
    root = make_predict_project(tmp_path, exported)
    write_frame(exported.frame, root / "data/parts/a.parquet")
    (root / "data/parts/b.parquet").write_bytes(b"PAR1 this is not parquet")
    result = invoke(root, "data/parts", "out/p.parquet")
    assert result.exit_code == 4 and "b.parquet" in flat(result)
    write_frame(exported.frame.drop(columns=["region"]), root / "data/noregion.csv")
    result = invoke(root, "data/noregion.csv", "out/p.parquet")
    assert result.exit_code == 4 and "region" in flat(result) and "noregion.csv" in flat(result)
    write_frame(exported.frame, root / "data/ok.csv")
    result = invoke(root, "data/ok.csv", "out/p.parquet", "--passthrough", "customer")
    assert result.exit_code == 4 and "customer" in flat(result)
    assert invoke(root, "data/nothing-*.csv", "out/p.parquet").exit_code == 3
    assert invoke(root, "data/missing.csv", "out/p.parquet").exit_code == 3
    assert not (root / "out").exists()


def test_tampered_model_is_refused(models, tmp_path):
    exported = models["classification"]
    root = make_predict_project(tmp_path, exported)
    write_frame(exported.frame, root / "data/in.parquet")
    with open(root / "models/model.onnx", "ab") as fh:
        fh.write(b"\0")
    result = invoke(root, "data/in.parquet", "out/p.parquet")
    assert result.exit_code == 8 and "sha256" in flat(result)


def test_killed_job_leaves_no_final_output(models, tmp_path):
    exported = models["regression"]
    root = make_predict_project(tmp_path, exported)
    big = pd.concat([exported.frame] * 400, ignore_index=True)  # 120k rows, scored 500 at a time
    write_frame(big, root / "data/big.csv")
    assert kill_mid_stream(root, settle=0.2) == -signal.SIGKILL
    assert not (root / "out/p.parquet").exists()
    assert not (root / "out/p.rejects.parquet").exists()
    assert not (root / "out/p.manifest.json").exists()


def test_same_output_whatever_the_chunk_size(models, tmp_path):
    exported = models["classification"]
    root = make_predict_project(tmp_path, exported, passthrough=["id"], max_reject_share=0.5)
    write_frame(bad_frame(exported.frame), root / "data/in.csv")
    assert invoke(root, "data/in.csv", "out/a.parquet", "--chunk-rows", "1").exit_code == 0
    assert invoke(root, "data/in.csv", "out/b.parquet").exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(root / "out/a.parquet"), pd.read_parquet(root / "out/b.parquet"))
    pd.testing.assert_frame_equal(
        pd.read_parquet(root / "out/a.rejects.parquet"), pd.read_parquet(root / "out/b.rejects.parquet")
    )


def test_bad_command_line_values(models, tmp_path):
    root = make_predict_project(tmp_path, models["classification"])
    assert invoke(root, "--engine", "spark").exit_code == 2
    assert invoke(root, "--chunk-rows", "0").exit_code == 2
    assert invoke(root, "data/in.parquet", "out/p.txt").exit_code == 4  # unsupported output type


def test_null_tokens_match_the_edge_runner():
    from mlctl.batch.readers import NULL_TOKENS
    from mlctl.edge import runner

    assert set(NULL_TOKENS) == set(runner.NULL_TOKENS)


def test_vectorised_runtime_checks_keep_their_semantics():
    from mlctl.onnxmodel.inputs import categorical_values as _categorical
    from mlctl.onnxmodel.inputs import numeric_values as _numeric
    from mlctl.onnxmodel.runtime import InputSpec

    num = InputSpec("n", "numeric", nullable=False)
    values, bad = _numeric([1, None, 2.5, True, "x", float("inf")], num)
    np.testing.assert_array_equal(values[[0, 2, 3]], [1.0, 2.5, 1.0])
    masks = {msg: np.flatnonzero(mask).tolist() for msg, mask in bad}
    assert masks == {"expected a number": [4], "infinite value not allowed": [5], "missing value not allowed": [1]}
    values, bad = _numeric(np.array([1, None, 3], dtype=object), InputSpec("n", "numeric"))
    assert np.isnan(values[1]) and values[2] == 3 and bad == []
    cat = InputSpec("c", "categorical", nullable=False, categories=("a", "1"))
    values, bad = _categorical(["a", None, 1, 1.0, "z", {}], cat, {"a", "1"}, "reject")
    assert values.tolist()[:4] == ["a", "", "1", "1"]
    masks = {msg: np.flatnonzero(mask).tolist() for msg, mask in bad}
    assert masks == {"expected a string": [5], "missing value not allowed": [1], "unknown category": [4]}
    values, _ = _categorical(np.array(["a", None, "z"], dtype=object), cat, {"a"}, "missing")
    assert values.tolist() == ["a", "", ""]
