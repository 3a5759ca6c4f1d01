"""`mlctl collect`: real files, a real SQLite database, a real local HTTP server, real sklearn data."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_frame, write_params
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_DATA_INVALID, EXIT_EXTERNAL, EXIT_NOT_FOUND, EXIT_USAGE
from mlctl.core.fileio import frame_hash, read_json
from mlctl.core.project import Project
from mlctl.params import load_params
from mlctl.stages.collect import run

runner = CliRunner()


def collect(root: Path):
    params = load_params(root / "params.yaml")
    return run(params.collect, params.common, Project(root))


def project(root: Path, sources: list[dict], target: str = "target", **collect_keys) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_params(root, {"target": target, "collect": {"sources": sources, **collect_keys}})
    return root


def invoke(root: Path, *args: str):
    return runner.invoke(app, ["collect", "-C", str(root), *args])


def text(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def assert_nothing_written(root: Path) -> None:
    assert not (root / "data" / "raw").exists() or not any((root / "data" / "raw").iterdir())


@pytest.fixture
def http_dir(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a directory; yields (directory, base URL)."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- sources that work -------------------------------------------------------


def test_csv_source_writes_parquet_and_manifest(make_project):
    df = make_frame(n=300)
    root = make_project(df)
    result = collect(root)
    data = pd.read_parquet(root / "data/raw/data.parquet")
    manifest = read_json(root / "data/raw/manifest.json")
    assert result.rows == manifest["rows"] == 300
    assert [c["name"] for c in manifest["columns"]] == list(df.columns)
    assert {c["name"]: c["dtype"] for c in manifest["columns"]}["x1"] == "float64"
    assert manifest["hash"] == frame_hash(data) == result.hash
    source = manifest["sources"][0]
    expected = hashlib.sha256((root / "data/sources/data.csv").read_bytes()).hexdigest()
    assert source["fingerprint"] == expected and source["kind"] == "csv" and source["rows"] == 300
    assert data["x1"].tolist() == pytest.approx(df["x1"].tolist())


def test_glob_concatenates_files_in_order(tmp_path):
    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    df = make_frame(n=200)
    df.iloc[:120].to_csv(root / "data/sources/part-1.csv", index=False)
    df.iloc[120:].to_csv(root / "data/sources/part-2.csv", index=False)
    project(root, [{"name": "parts", "path": "data/sources/part-*.csv"}])
    collect(root)
    manifest = read_json(root / "data/raw/manifest.json")
    assert manifest["rows"] == 200
    assert [f["path"] for f in manifest["sources"][0]["files"]] == [
        "data/sources/part-1.csv",
        "data/sources/part-2.csv",
    ]
    assert pd.read_parquet(root / "data/raw/data.parquet")["count"].tolist() == df["count"].tolist()


def test_parquet_and_jsonl_joined_on_key(tmp_path):
    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    left = pd.DataFrame({"id": [1, 2, 3, 4], "x": [0.1, 0.2, 0.3, 0.4]})
    right = pd.DataFrame({"id": [4, 3, 2, 9], "target": ["a", "b", "a", "b"], "x": [9, 9, 9, 9]})
    left.to_parquet(root / "data/sources/left.parquet", index=False)
    right.to_json(root / "data/sources/right.jsonl", orient="records", lines=True)
    sources = [
        {"name": "left", "path": "data/sources/left.parquet"},
        {"name": "right", "path": "data/sources/right.jsonl"},
    ]
    project(root, sources, combine="join", join_on=["id"], join_how="inner")
    result = collect(root)
    data = pd.read_parquet(root / "data/raw/data.parquet").sort_values("id")
    assert result.rows == 3
    assert data["target"].tolist() == ["a", "b", "a"]
    assert list(data.columns) == ["id", "x", "target", "x_right"]  # the clash is named after its source


def test_sqlite_source_and_fingerprint(tmp_path):
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    with sqlite3.connect(root / "data/app.db") as conn:
        conn.execute("CREATE TABLE loans (amount REAL, term INTEGER, target TEXT)")
        conn.executemany("INSERT INTO loans VALUES (?, ?, ?)", [(1.5, 12, "no"), (2.5, 24, "yes"), (None, 36, "no")])
    query = "SELECT amount, term, target FROM loans ORDER BY term"
    project(root, [{"name": "db", "url": "sqlite:///data/app.db", "query": query}])
    result = collect(root)
    data = pd.read_parquet(root / "data/raw/data.parquet")
    assert data["term"].tolist() == [12, 24, 36] and data["amount"].isna().sum() == 1
    expected = hashlib.sha256(f"{query}\n{frame_hash(data)}".encode()).hexdigest()
    assert result.sources[0]["fingerprint"] == expected and result.sources[0]["kind"] == "sql"


def test_http_csv_and_parquet_sources(tmp_path, http_dir):
    served, base = http_dir
    df = make_frame(n=150)
    df.iloc[:100].to_csv(served / "a.csv", index=False)
    df.iloc[100:].to_parquet(served / "b.parquet", index=False)
    root = project(tmp_path / "p", [{"name": "a", "url": f"{base}/a.csv"}, {"name": "b", "url": f"{base}/b.parquet"}])
    result = collect(root)
    assert result.rows == 150 and [s["kind"] for s in result.sources] == ["http", "http"]
    assert result.sources[1]["fingerprint"] == hashlib.sha256((served / "b.parquet").read_bytes()).hexdigest()


def test_sklearn_bundled_dataset(tmp_path):
    root = project(tmp_path / "p", [{"name": "iris", "dataset": "load_iris"}])
    result = collect(root)
    assert result.rows == 150 and "target" in pd.read_parquet(root / "data/raw/data.parquet").columns


def test_single_parquet_source_is_copied_verbatim(tmp_path):
    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    make_frame(n=100).to_parquet(root / "data/sources/d.parquet", index=False)
    result = collect(project(root, [{"name": "d", "path": "data/sources/d.parquet"}]))
    assert (root / "data/raw/data.parquet").read_bytes() == (root / "data/sources/d.parquet").read_bytes()
    copied = (root / "data/raw/data.parquet").read_bytes()
    assert result.hash == hashlib.sha256(copied).hexdigest() == result.sources[0]["fingerprint"]
    assert read_json(root / "data/raw/manifest.json")["hash_method"].startswith("sha256 of the Parquet file")


def test_copied_parquet_manifest_matches_a_full_read(tmp_path):
    """The metadata-only path describes the file as reading it would: dtypes, nulls (NaN too), warnings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    df = make_frame(n=120)
    df["gone"] = pd.Series([None] * len(df), dtype="float64")
    df["when"] = pd.date_range("2020-01-01", periods=len(df), freq="D")
    df.loc[::7, "when"] = pd.NaT
    table = pa.Table.from_pandas(df, preserve_index=False)
    nan_floats = pa.array([float("nan") if i % 5 == 0 else 1.0 for i in range(len(df))], from_pandas=False)
    table = table.append_column("nan_only", nan_floats)  # NaN stored as a value, not as a Parquet null
    pq.write_table(table, root / "data/sources/d.parquet", row_group_size=50)
    project(root, [{"name": "d", "path": "data/sources/d.parquet"}])
    copied = collect(root)
    outlined = read_json(root / "data/raw/manifest.json")
    project(root, [{"name": "d", "path": "data/sources/d.parquet", "read_options": {"engine": "pyarrow"}}])
    reencoded = collect(root)
    full = read_json(root / "data/raw/manifest.json")
    assert outlined["columns"] == full["columns"] and outlined["rows"] == full["rows"] == 120
    assert {c["name"]: c["nulls"] for c in outlined["columns"]}["nan_only"] == 24
    assert copied.warnings == reencoded.warnings and any("'gone' is entirely null" in w for w in copied.warnings)
    assert outlined["sources"] == full["sources"] and full["hash"] == frame_hash(
        pd.read_parquet(root / "data/raw/data.parquet")
    )


def test_mixed_types_and_all_null_columns_are_warned(tmp_path):
    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    lines = ['{"v": 1, "gone": null, "target": "a"}', '{"v": "n/a", "gone": null, "target": "b"}']
    (root / "data/sources/d.jsonl").write_text("\n".join(lines) + "\n")
    collect(project(root, [{"name": "d", "path": "data/sources/d.jsonl"}]))
    warnings = read_json(root / "data/raw/manifest.json")["warnings"]
    assert any("'v' mixes value types" in w for w in warnings)
    assert any("'gone' is entirely null" in w for w in warnings)
    assert pd.read_parquet(root / "data/raw/data.parquet")["v"].tolist() == ["1", "n/a"]


def test_collect_cli_help_and_success(make_project):
    assert runner.invoke(app, ["collect", "--help"]).exit_code == 0
    root = make_project(make_frame(n=50))
    result = invoke(root)
    assert result.exit_code == 0, result.output
    assert "collected 50 rows" in result.output


# ---- bad input: clear message, documented exit code, nothing written ---------

CSV_CASES = {
    "empty": (b"", EXIT_DATA_INVALID, "empty"),
    "header_only": (b"a,b,target\n", EXIT_DATA_INVALID, "no data rows"),
    "semicolon": (b"a;b;target\n1;2;x\n3;4;y\n", EXIT_DATA_INVALID, 'sep: ";"'),
    "tab": (b"a\tb\ttarget\n1\t2\tx\n", EXIT_DATA_INVALID, 'sep: "\\t"'),
    "latin1": ("name,target\ncafé,x\nnaïve,y\n".encode("latin-1"), EXIT_DATA_INVALID, "encoding: latin-1"),
    "duplicate_header": (b"a,b,a,target\n1,2,3,x\n", EXIT_DATA_INVALID, "repeats column name(s) ['a']"),
    "no_target": (b"a,b\n1,2\n", EXIT_USAGE, "target column 'target'"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_bad_csv(tmp_path, case):
    content, code, message = CSV_CASES[case]
    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    (root / "data/sources/bad.csv").write_bytes(content)
    project(root, [{"name": "bad", "path": "data/sources/bad.csv"}])
    result = invoke(root)
    assert result.exit_code == code, result.output
    assert message in text(result)
    assert "bad" in text(result) or case == "no_target"  # the source or its file is named (else the column)
    assert_nothing_written(root)


def test_latin1_reads_with_the_suggested_option(tmp_path):
    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    (root / "data/sources/l.csv").write_bytes("name,target\ncafé,x\n".encode("latin-1"))
    project(root, [{"name": "l", "path": "data/sources/l.csv", "read_options": {"encoding": "latin-1"}}])
    collect(root)
    assert pd.read_parquet(root / "data/raw/data.parquet")["name"].tolist() == ["café"]


def test_source_errors_name_the_source(tmp_path, http_dir):
    _, base = http_dir
    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    make_frame(n=20).to_csv(root / "data/sources/good.csv", index=False)
    with sqlite3.connect(root / "data/app.db") as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    good = {"name": "good", "path": "data/sources/good.csv"}
    cases = [
        ({"name": "nomatch", "path": "data/sources/*.parquet"}, EXIT_NOT_FOUND, "matches no file"),
        ({"name": "missing", "path": "data/sources/nope.csv"}, EXIT_NOT_FOUND, "file not found"),
        (
            {"name": "badsql", "url": "sqlite:///data/app.db", "query": "SELECT * FROM nosuch"},
            EXIT_EXTERNAL,
            "no such table",
        ),
        ({"name": "nodb", "url": "sqlite:///data/none.db", "query": "SELECT 1"}, EXIT_NOT_FOUND, "not found"),
        (
            {"name": "down", "url": f"http://127.0.0.1:{closed_port()}/d.csv", "timeout": 5},
            EXIT_EXTERNAL,
            "cannot download",
        ),
        ({"name": "gone", "url": f"{base}/missing.csv"}, EXIT_EXTERNAL, "HTTP 404"),
        ({"name": "fetch", "dataset": "fetch_openml"}, EXIT_USAGE, "unknown scikit-learn dataset"),
    ]
    for bad, code, message in cases:
        project(root, [good, bad])  # the good source is read first: still nothing may be written
        result = invoke(root)
        assert result.exit_code == code, (bad, result.output)
        assert message in text(result) and f"'{bad['name']}'" in text(result), text(result)
        assert_nothing_written(root)


def test_combining_errors(tmp_path):
    root = tmp_path / "p"
    (root / "data/sources").mkdir(parents=True)
    pd.DataFrame({"id": [1], "target": ["a"]}).to_csv(root / "data/sources/a.csv", index=False)
    pd.DataFrame({"key": [1], "other": ["b"]}).to_csv(root / "data/sources/b.csv", index=False)
    sources = [{"name": "a", "path": "data/sources/a.csv"}, {"name": "b", "path": "data/sources/b.csv"}]
    project(root, sources)
    result = invoke(root)
    assert result.exit_code == EXIT_DATA_INVALID and "other columns" in text(result)
    project(root, sources, combine="join", join_on=["id"])
    result = invoke(root)
    assert result.exit_code == EXIT_DATA_INVALID and "lacks the join column(s) ['id']" in text(result)
    assert_nothing_written(root)
