"""Paths typed on the command line may be anywhere: absolute, relative to the current directory, or `~`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from predict_helpers import make_predict_project, write_frame
from test_monitor import _inputs, built, project, write_logs  # noqa: F401  (fixtures)
from test_predict import models  # noqa: F401  (fixture)
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.errors import ConfigError
from mlctl.project import Project

runner = CliRunner()


def test_predict_reads_and_writes_outside_the_project(models, tmp_path, tmp_path_factory, monkeypatch):  # noqa: F811
    exported = models["classification"]
    root = make_predict_project(tmp_path / "project", exported)
    elsewhere = tmp_path_factory.mktemp("batch-data")
    home = tmp_path_factory.mktemp("home")
    source = write_frame(exported.frame, elsewhere / "in.parquet")
    monkeypatch.setenv("HOME", str(home))
    result = runner.invoke(app, ["predict", str(source), "~/scored.csv", "-C", str(root), "--json"])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(home / "scored.csv")
    assert len(scored) == len(exported.frame) == json.loads(result.stdout)["rows_scored"]
    assert not list(root.rglob("scored.csv"))


def test_relative_paths_start_where_the_command_runs(models, tmp_path, monkeypatch):  # noqa: F811
    exported = models["classification"]
    root = make_predict_project(tmp_path / "project", exported)
    batches = root / "batches"
    write_frame(exported.frame, batches / "in.csv")
    monkeypatch.chdir(batches)  # inside the project, no -C: relative to the current directory
    result = runner.invoke(app, ["predict", "in.csv", "out.parquet"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(batches / "out.parquet")) == len(exported.frame)
    monkeypatch.chdir(tmp_path)  # -C DIR: as if started in DIR (like git -C), so existing scripts keep working
    again = runner.invoke(app, ["predict", "batches/in.csv", "batches/again.parquet", "-C", str(root)])
    assert again.exit_code == 0, again.output
    assert (batches / "again.parquet").exists()


def test_monitor_reads_logs_outside_the_project(project, tmp_path_factory, monkeypatch):  # noqa: F811
    root = project()
    write_logs(root, _inputs("classification", 600, 5))
    logs = tmp_path_factory.mktemp("var-log") / "requests"
    shutil.move(root / "logs" / "requests", logs)
    result = runner.invoke(app, ["monitor", str(logs), "-C", str(root), "--json"])
    assert result.exit_code in (0, 7), result.output
    report = json.loads(result.stdout)
    assert report["current"]["path"] == str(logs) and report["current"]["rows"] == 600


def test_untrusted_paths_stay_inside_the_project(tmp_path):
    here = Project(tmp_path)
    assert here.path("/etc/hosts") == Path("/etc/hosts").resolve()  # a person's choice
    assert here.path("~/x") == (Path.home() / "x").resolve()
    assert here.inside("models/model.onnx") == (tmp_path / "models" / "model.onnx").resolve()
    for bad in ["../x", "/etc/passwd", "models/../../x"]:
        with pytest.raises(ConfigError, match="outside the project"):
            here.inside(bad, what="archive member")
