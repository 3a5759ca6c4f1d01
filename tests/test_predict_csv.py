"""CSV batch scoring: typed blocks, per-block fallback to text, line counting, no pandas on the path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from predict_helpers import export_model, make_predict_project, write_frame
from test_predict import check_parity, invoke

from mlctl.batch import arrays

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_model(tmp_path_factory.mktemp("model"), "classification")


def big_frame(exported, copies: int = 12) -> pd.DataFrame:
    """Over 64 KiB of CSV, so the first block (where types are sniffed) sees only clean rows."""
    df = pd.concat([exported.frame] * copies, ignore_index=True)
    df["id"] = [f"r{i}" for i in range(len(df))]
    return df


def test_text_deep_in_a_numeric_column_rejects_that_row_only(exported, tmp_path):
    root = make_predict_project(tmp_path, exported, passthrough=["id"], max_reject_share=0.5)
    df = big_frame(exported).astype({"x1": object, "count": object})
    n = len(df)
    df.loc[n - 700, "x1"] = "oops"
    df.loc[n - 5, "count"] = "many"
    write_frame(df, root / "data/in.csv")
    assert (root / "data/in.csv").stat().st_size > 3 * 65536
    result = invoke(root, "data/in.csv", "out/p.csv", "--chunk-rows", "400")
    assert result.exit_code == 0, result.output
    out = pd.read_csv(root / "out/p.csv")
    rejects = pd.read_csv(root / "out/p.rejects.csv")
    assert rejects["row_number"].tolist() == [n - 700, n - 5]
    assert rejects["reason"].tolist() == ["x1: expected a number", "count: expected a number"]
    assert out["row_number"].tolist() == [i for i in range(n) if i not in (n - 700, n - 5)]
    assert out["id"].tolist() == [f"r{i}" for i in out["row_number"]]
    clean = big_frame(exported)
    check_parity(exported, clean, out)


def test_crlf_blank_lines_and_no_final_newline_keep_row_numbers(exported, tmp_path):
    root = make_predict_project(tmp_path, exported, passthrough=["id"])
    df = big_frame(exported, copies=4)
    lines = df.to_csv(index=False).splitlines()
    lines.insert(500, "")  # blank lines are skipped, as pandas.read_csv skips them
    lines.insert(900, "")
    (root / "data").mkdir(exist_ok=True)
    (root / "data/in.csv").write_bytes("\r\n".join(lines).encode())  # CRLF, no newline at the end
    assert len(pd.read_csv(root / "data/in.csv")) == len(df)
    result = invoke(root, "data/in.csv", "out/p.parquet", "--chunk-rows", "128")
    assert result.exit_code == 0, result.output
    out = pd.read_parquet(root / "out/p.parquet")
    assert out["row_number"].tolist() == list(range(len(df)))
    assert out["id"].tolist() == df["id"].tolist()
    check_parity(exported, df, out)


def test_csv_output_equals_parquet_output_and_is_read_back_exactly(exported, tmp_path):
    root = make_predict_project(tmp_path, exported, passthrough=["id"])
    df = big_frame(exported, copies=3)
    write_frame(df, root / "data/in.csv")
    write_frame(df, root / "data/in.parquet")
    assert invoke(root, "data/in.csv", "out/a.csv", "--chunk-rows", "100").exit_code == 0
    assert invoke(root, "data/in.parquet", "out/b.parquet", "--chunk-rows", "100").exit_code == 0
    a, b = pd.read_csv(root / "out/a.csv"), pd.read_parquet(root / "out/b.parquet")
    assert list(a.columns) == list(b.columns) == ["row_number", "id", "prediction", "proba_no", "proba_yes"]
    pd.testing.assert_frame_equal(a.drop(columns=["proba_no", "proba_yes"]), b.drop(columns=["proba_no", "proba_yes"]))
    # float32 probabilities are written in their shortest exact form: they read back bit for bit
    np.testing.assert_array_equal(a["proba_yes"].to_numpy(np.float32), b["proba_yes"].to_numpy(np.float32))
    header = (root / "out/a.csv").read_text().splitlines()[0]
    assert header == '"row_number","id","prediction","proba_no","proba_yes"'


def test_gzipped_csv_is_scored(exported, tmp_path):
    root = make_predict_project(tmp_path, exported, passthrough=["id"])
    df = big_frame(exported, copies=2)
    (root / "data").mkdir(exist_ok=True)
    df.to_csv(root / "data/in.csv.gz", index=False, compression="gzip")
    assert invoke(root, "data/in.csv.gz", "out/p.parquet", "--chunk-rows", "64").exit_code == 0
    out = pd.read_parquet(root / "out/p.parquet")
    assert out["id"].tolist() == df["id"].tolist()
    check_parity(exported, df, out)


def test_csv_scoring_never_imports_pandas(exported, tmp_path):
    """pyarrow imports pandas on its first pa.array: 0.3 s on a 2-core job that takes about one."""
    root = make_predict_project(tmp_path, exported, passthrough=["id"], max_reject_share=0.5)
    df = big_frame(exported, copies=2)
    write_frame(df, root / "data/in.csv")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mlctl.params import load_params\n"
        "from mlctl.core.project import Project\n"
        "from mlctl.stages.predict import run\n"
        f"root = Path({str(root)!r})\n"
        "params = load_params(root / 'params.yaml')\n"
        "update = {'input': 'data/in.csv', 'output': 'out/p.csv', 'chunk_rows': 50}\n"
        "section = params.predict.model_copy(update=update)\n"
        "result = run(section, params.common, Project(root))\n"
        "print(result.rows_scored, 'pandas' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(len(df)), "False"]


def test_arrow_numpy_helpers_handle_nulls_offsets_and_chunks():
    col = pa.chunked_array([pa.array([1.5, None, 3.0]), pa.array([None, 4.0, None, 6.0]).slice(1)])
    np.testing.assert_array_equal(arrays.floats(col), [1.5, np.nan, 3.0, 4.0, np.nan, 6.0])
    np.testing.assert_array_equal(arrays.floats(pa.array([None, 5, None, 7], pa.int64()).slice(1)), [5, np.nan, 7])
    np.testing.assert_array_equal(arrays.floats(pa.array([True, None, False])), [1.0, np.nan, 0.0])
    np.testing.assert_array_equal(arrays.floats(pa.array([None, None], pa.float64())), [np.nan, np.nan])
    words = pa.chunked_array(
        [pa.array(["a", None, "b"]).dictionary_encode(), pa.array(["c", "a", None, "x"]).dictionary_encode().slice(1)]
    )
    codes, values = arrays.codes(words)
    assert [None if c < 0 else values[c] for c in codes] == ["a", None, "b", "a", None, "x"]
    mask = np.array([True, False, True, True, False, False, False, True, True])
    assert arrays.from_numpy(mask).to_pylist() == mask.tolist()
    strided = np.arange(12, dtype=np.float32).reshape(4, 3)[:, 1]
    assert arrays.from_numpy(strided).to_pylist() == [1.0, 4.0, 7.0, 10.0]
    labels = np.array(["yes", "no", "yes"], dtype=object)
    assert arrays.labels(labels, ["no", "yes"]).to_pylist() == ["yes", "no", "yes"]
    assert arrays.labels(labels, ["no"]).to_pylist() == ["yes", "no", "yes"]  # a label outside the classes
    assert arrays.labels(np.array([2, 0], dtype=np.int64), [0, 2]).to_pylist() == [2, 0]
    assert arrays.strings(["é", "", "ab"]).to_pylist() == ["é", "", "ab"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_label_codes_write_the_same_files(exported, tmp_path, monkeypatch, fmt):
    """Classifiers are scored with class indexes (mlctl.onnxmodel.labelcodes): the outputs must not change."""
    from mlctl.onnxmodel import labelcodes

    root = make_predict_project(tmp_path, exported, passthrough=["id"], max_reject_share=0.5)
    df = big_frame(exported, copies=3)
    write_frame(df, root / f"data/in.{fmt}")
    decoded = []
    coded_labels = arrays.coded_labels
    monkeypatch.setattr(arrays, "coded_labels", lambda *a: decoded.append(1) or coded_labels(*a))
    assert invoke(root, f"data/in.{fmt}", f"out/codes.{fmt}", "--chunk-rows", "300").exit_code == 0
    assert decoded  # the codes path really ran
    with monkeypatch.context() as m:
        m.setattr(labelcodes, "with_label_codes", lambda *a: None)  # the graph as exported
        m.setattr(labelcodes, "with_category_codes", lambda *a: None)
        assert invoke(root, f"data/in.{fmt}", f"out/names.{fmt}", "--chunk-rows", "300").exit_code == 0
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    names, codes = read(root / f"out/names.{fmt}"), read(root / f"out/codes.{fmt}")
    pd.testing.assert_frame_equal(names, codes)
    assert set(codes["prediction"]) == {"no", "yes"}
    check_parity(exported, df, codes)
