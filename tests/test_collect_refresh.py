"""Non-file sources are re-collected when they change, and only then (real `dvc repro`, real SQLite)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from conftest import git, make_frame, write_params
from test_pipeline_dvc import dvc, mlctl, ran_stages

from mlctl.dvcfile import render, stages
from mlctl.errors import ConfigError, ExternalError, InputNotFoundError
from mlctl.params import Source, load_params
from mlctl.project import Project
from mlctl.stages.collect import run as collect

COUNT = (
    "python -c \"import pandas as pd; open('rows.txt','w').write(str(len(pd.read_parquet('data/raw/data.parquet'))))\""
)


def sql_source(url: str = "sqlite:///db/customers.sqlite") -> dict:
    return {"name": "customers", "url": url, "query": "SELECT * FROM customers"}


def make_db(path: Path, n: int = 200, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        make_frame(n=n, seed=seed).drop(columns=["signup"]).to_sql("customers", conn, if_exists="append", index=False)


def test_collect_stage_follows_the_source_kinds():
    files = [Source(name="a", path="data/sources/a.csv"), Source(name="b", path="/srv/drop/*.csv")]
    assert stages("classification")["collect"]["deps"] == ["data/sources"]  # no sources given: as before
    stage = stages("classification", files)["collect"]
    assert stage["deps"] == ["data/sources", "/srv/drop"] and "always_changed" not in stage
    sql = stages("classification", [Source(**sql_source())])["collect"]
    assert sql["always_changed"] is True and "deps" not in sql  # no data/sources folder needed
    mixed = stages("regression", [*files, Source(name="iris", dataset="iris")])["collect"]
    assert mixed["always_changed"] is True and mixed["deps"] == ["data/sources", "/srv/drop"]


def test_env_variables_fill_sql_urls_and_stay_out_of_the_manifest(tmp_path, monkeypatch):
    make_db(tmp_path / "db" / "customers.sqlite")
    write_params(tmp_path, {"target": "target", "collect": {"sources": [sql_source("sqlite:///${DB_FILE}")]}})
    params = load_params(tmp_path / "params.yaml")
    monkeypatch.delenv("DB_FILE", raising=False)
    with pytest.raises(ConfigError, match="DB_FILE") as info:
        collect(params.collect, params.common, Project(tmp_path))
    assert "customers" in str(info.value) and "secrets.DB_FILE" in info.value.hint
    monkeypatch.setenv("DB_FILE", "db/customers.sqlite")
    result = collect(params.collect, params.common, Project(tmp_path))
    assert result.rows == 200 and result.sources[0]["location"] == "sqlite:///${DB_FILE}"


def test_a_sql_source_that_is_down_names_the_source(tmp_path):
    write_params(tmp_path, {"target": "target", "collect": {"sources": [sql_source()]}})
    params = load_params(tmp_path / "params.yaml")
    with pytest.raises(InputNotFoundError, match="source 'customers'"):
        collect(params.collect, params.common, Project(tmp_path))
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "customers.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(ExternalError, match="source 'customers'") as info:
        collect(params.collect, params.common, Project(tmp_path))
    assert "sqlite:///db/customers.sqlite" in info.value.where


@pytest.mark.slow
def test_dvc_reruns_downstream_only_when_the_table_changed(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    make_db(root / "db" / "customers.sqlite")
    write_params(root, {"target": "target", "collect": {"sources": [sql_source()]}})
    params = load_params(root / "params.yaml")
    pipeline = yaml.safe_load(render("classification", params.collect.sources))
    assert not (root / "data" / "sources").exists()
    doc = {"stages": {"collect": pipeline["stages"]["collect"]}}
    doc["stages"]["count"] = {"cmd": COUNT, "deps": ["data/raw/data.parquet"], "outs": [{"rows.txt": {"cache": False}}]}
    (root / "dvc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")

    first = dvc(root, "repro")
    assert ran_stages(first.stdout) == ["collect", "count"]
    assert (root / "rows.txt").read_text() == "200"
    data = root / "data" / "raw" / "data.parquet"
    before = data.read_bytes()
    manifest = (root / "data" / "raw" / "manifest.json").read_bytes()

    again = dvc(root, "repro")  # the same table: collect runs (always_changed) and rewrites nothing
    assert ran_stages(again.stdout) == ["collect"], again.stdout
    assert data.read_bytes() == before  # (DVC may re-link the file from its cache: the bytes are what count)
    assert json.loads(mlctl(root, "collect", "--json").stdout)["unchanged"] is True
    assert (root / "data" / "raw" / "manifest.json").read_bytes() == manifest

    make_db(root / "db" / "customers.sqlite", n=50, seed=9)  # new rows in the table
    third = dvc(root, "repro")
    assert ran_stages(third.stdout) == ["collect", "count"], third.stdout
    assert (root / "rows.txt").read_text() == "250"
    assert mlctl(root, "collect").returncode == 0 and (root / "rows.txt").read_text() == "250"


def test_collect_rewrites_nothing_when_the_table_is_unchanged_and_repairs_a_damaged_copy(tmp_path):
    make_db(tmp_path / "db" / "customers.sqlite")
    write_params(tmp_path, {"target": "target", "collect": {"sources": [sql_source()]}})
    params = load_params(tmp_path / "params.yaml")
    first = collect(params.collect, params.common, Project(tmp_path))
    data = tmp_path / "data" / "raw" / "data.parquet"
    stamp = data.stat().st_mtime_ns
    again = collect(params.collect, params.common, Project(tmp_path))
    assert not first.unchanged and again.unchanged and data.stat().st_mtime_ns == stamp
    data.write_bytes(b"damaged")
    repaired = collect(params.collect, params.common, Project(tmp_path))
    assert not repaired.unchanged and repaired.hash == first.hash and data.read_bytes()[:4] == b"PAR1"
