"""Issue 18, items 10, 11 and 14: ragged CSV rows, globs reaching a file twice, temp files of killed jobs."""

from __future__ import annotations

import signal

import pandas as pd
import pytest
from predict_helpers import export_model, kill_mid_stream, make_predict_project, write_frame
from typer.testing import CliRunner

from mlctl.cli import app


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_model(tmp_path_factory.mktemp("models"), "classification")


def invoke(root, *args: str):
    return CliRunner().invoke(app, ["predict", *args, "-C", str(root)])


@pytest.mark.parametrize("chunk_rows", ["1000", "7"])
def test_ragged_csv_rows_are_rejects_with_their_row_number(exported, tmp_path, chunk_rows):
    root = make_predict_project(tmp_path, exported, passthrough=["id"], max_reject_share=0.5)
    df = exported.frame.head(40)
    write_frame(df, root / "data/in.csv")
    lines = (root / "data/in.csv").read_text().splitlines()
    lines[1 + 5] += ",extra"  # row 5: one field too many
    lines[1 + 12] = lines[1 + 12].rsplit(",", 1)[0]  # row 12: one field short
    (root / "data/in.csv").write_text("\n".join(lines) + "\n")
    result = invoke(root, "data/in.csv", "out/p.parquet", "--chunk-rows", chunk_rows)
    assert result.exit_code == 0, result.output
    out = pd.read_parquet(root / "out/p.parquet")
    rejects = pd.read_parquet(root / "out/p.rejects.parquet")
    assert sorted(rejects["row_number"]) == [5, 12]
    assert all("fields where the header has" in r for r in rejects["reason"])
    assert sorted(out["row_number"]) == [i for i in range(40) if i not in (5, 12)]
    assert list(out["id"]) == [df["id"].iloc[i] for i in out["row_number"]]  # rows keep their identity
    clean = make_predict_project(tmp_path / "clean", exported, passthrough=["id"])
    write_frame(df, clean / "data/in.csv")
    assert invoke(clean, "data/in.csv", "out/p.parquet").exit_code == 0
    expected = pd.read_parquet(clean / "out/p.parquet").set_index("row_number").drop(index=[5, 12])
    pd.testing.assert_frame_equal(out.set_index("row_number"), expected)


def test_a_file_matched_through_several_paths_is_scored_once(exported, tmp_path):
    root = make_predict_project(tmp_path, exported)
    for part in ("a", "b", "c"):
        (root / "data" / part).mkdir(parents=True)
    write_frame(exported.frame.head(49), root / "data/x.csv")
    result = invoke(root, "data/*/../x.csv", "out/p.parquet")
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(root / "out/p.parquet")) == 49


@pytest.mark.slow
def test_temp_files_of_a_killed_job_are_removed_by_the_next_run(exported, tmp_path):
    root = make_predict_project(tmp_path, exported)
    big = pd.concat([exported.frame] * 600, ignore_index=True)
    write_frame(big, root / "data/big.csv")
    assert kill_mid_stream(root, settle=0.05) == -signal.SIGKILL
    assert list((root / "out").glob(".*.tmp"))  # the killed job's partial files
    write_frame(exported.frame.head(10), root / "data/small.csv")
    assert invoke(root, "data/small.csv", "out/p.parquet").exit_code == 0
    assert not list((root / "out").glob(".*.tmp"))
    assert len(pd.read_parquet(root / "out/p.parquet")) == 10
