"""`mlctl predict --engine dask` on a LocalCluster gives the local engine's rows, rejects and counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from predict_helpers import export_model, make_predict_project, read_any, write_frame
from typer.testing import CliRunner

from mlctl.cli import app

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


def partitioned(df: pd.DataFrame, root, ext: str, parts: int = 3) -> str:
    for i, idx in enumerate(np.array_split(np.arange(len(df)), parts)):
        write_frame(df.iloc[idx], root / f"data/parts/part-{i}.{ext}")
    return "data/parts"


def with_bad_rows(df: pd.DataFrame) -> pd.DataFrame:
    bad = df.copy().astype({"count": object})
    bad.loc[5, "x1"] = np.nan
    bad.loc[150, "count"] = "lots"
    bad.loc[299, "region"] = "moon"
    return bad


@pytest.mark.parametrize(("task", "ext"), [("classification", "parquet"), ("regression", "csv")])
def test_dask_engine_matches_local_row_for_row(cluster, tmp_path, task, ext):
    exported = export_model(tmp_path / "model", task)
    root = make_predict_project(
        tmp_path / "project", exported, passthrough=["id"], unknown_category="reject", max_reject_share=0.5
    )
    df = exported.frame if ext == "parquet" else with_bad_rows(exported.frame)
    if ext == "parquet":
        df = df.copy()
        df.loc[5, "x1"] = np.nan
        df.loc[299, "region"] = "moon"
    src = partitioned(df, root, ext)
    runner = CliRunner()
    local = runner.invoke(app, ["predict", src, f"out/local.{ext}", "--chunk-rows", "40", "-C", str(root)])
    assert local.exit_code == 0, local.output
    args = ["predict", src, f"out/dask.{ext}", "--engine", "dask", "--scheduler", cluster.scheduler_address]
    remote = runner.invoke(app, [*args, "--chunk-rows", "40", "-C", str(root)])
    assert remote.exit_code == 0, remote.output
    for kind in ("", ".rejects"):
        a = read_any(root / f"out/local{kind}.{ext}").sort_values("row_number", ignore_index=True)
        b = read_any(root / f"out/dask{kind}.{ext}").sort_values("row_number", ignore_index=True)
        pd.testing.assert_frame_equal(a, b)
    rejects = read_any(root / f"out/dask.rejects.{ext}")
    expected = [5, 299] if ext == "parquet" else [5, 150, 299]
    assert sorted(rejects["row_number"]) == expected
    ml = json.loads((root / "out/local.manifest.json").read_text())
    md = json.loads((root / "out/dask.manifest.json").read_text())
    for key in ("rows_in", "rows_scored", "rows_rejected"):
        assert ml[key] == md[key]
    assert md["rows_in"] == len(df) and md["engine"] == "dask"
    assert md["input"]["fingerprint"] == ml["input"]["fingerprint"]


def test_dask_engine_reject_threshold_writes_nothing(cluster, tmp_path):
    exported = export_model(tmp_path / "model", "regression")
    root = make_predict_project(tmp_path / "project", exported, max_reject_share=0.0)
    src = partitioned(with_bad_rows(exported.frame), root, "csv")
    args = ["predict", src, "out/p.csv", "--engine", "dask", "--scheduler", cluster.scheduler_address, "-C", str(root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 4, result.output
    assert not (root / "out").exists() or not any((root / "out").iterdir())


def test_worker_refuses_bytes_that_do_not_match_the_manifest():
    from mlctl.batch.dask_engine import worker_model
    from mlctl.core.errors import ModelError

    with pytest.raises(ModelError, match="sha256"):
        worker_model(b"not a model", {"sha256": "0" * 64, "inputs": [], "task": "regression"})
