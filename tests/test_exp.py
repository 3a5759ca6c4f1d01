"""`mlctl exp run|show` on real DVC experiments in a throw-away git + DVC repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import git, write_params
from typer.testing import CliRunner

from mlctl.cli import app
from mlctl.core.errors import EXIT_GATE_REJECTED, EXIT_NOT_FOUND, EXIT_USAGE, ConfigError
from mlctl.stages.exp import expand_sweeps, parse_exp_show

runner = CliRunner()

# A stand-in for the real pipeline: reads params.yaml, writes a metrics file, fast.
STEP = """\
import json, sys, yaml
p = yaml.safe_load(open("params.yaml"))
cv = p["train"]["search"]["cv"]
if cv == 9:
    sys.exit(5)  # what the gate does when it rejects a model
json.dump({"score": cv / 10, "n_candidates": len(p["train"]["candidates"])}, open("metrics.json", "w"))
"""


PARAMS = {
    "seed": 0,
    "target": "target",
    "task": "classification",
    "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
    "train": {"candidates": ["logistic_regression"], "search": {"cv": 3}},
}


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    root = tmp_path / "exp"
    root.mkdir()
    write_params(root, PARAMS)
    (root / "step.py").write_text(STEP)
    dvc_yaml = {
        "stages": {
            "train": {
                "cmd": f"{sys.executable} step.py",
                "deps": ["step.py"],
                "params": ["train", "seed"],
                "metrics": [{"metrics.json": {"cache": False}}],
            }
        }
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    git(root, "init", "-q")
    git(root, "config", "user.name", "mlctl tests")
    git(root, "config", "user.email", "tests@example.invalid")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "baseline")
    return root


def test_expand_sweeps_makes_every_combination():
    assert expand_sweeps([]) == [[]]
    assert expand_sweeps(["a=1"]) == [["a=1"]]
    combos = expand_sweeps(["train.search.cv=3,5", "train.candidates=[knn,ridge]", "seed=choice(1,2)"])
    assert len(combos) == 4
    assert ["train.search.cv=3", "train.candidates=[knn,ridge]", "seed=1"] in combos
    assert ["train.search.cv=5", "train.candidates=[knn,ridge]", "seed=2"] in combos
    with pytest.raises(ConfigError, match="cannot parse"):
        expand_sweeps(["a=[1,2"])


def test_parse_exp_show_reads_dvc3_json():
    entries = [
        {"rev": "workspace", "name": None, "data": {"rev": "workspace", "timestamp": None,
         "params": {"params.yaml": {"data": {"train": {"cv": 5}}}},
         "metrics": {"m.json": {"data": {"score": 0.5}}}}, "error": None, "experiments": None},
        {"rev": "a" * 40, "name": "main", "data": {"rev": "a" * 40, "timestamp": "2026-01-01T00:00:00",
         "params": {"params.yaml": {"data": {"train": {"cv": 3}}}},
         "metrics": {"m.json": {"error": {"type": "FileNotFoundError"}}}}, "error": None,
         "experiments": [{"name": "e1", "executor": None, "revs": [{"rev": "b" * 40, "name": "e1", "data": {
             "rev": "b" * 40, "timestamp": "2026-01-01T00:01:00",
             "params": {"params.yaml": {"data": {"train": {"cv": 5}}}, "other.yaml": {"data": {"k": 1}}},
             "metrics": {"m.json": {"data": {"score": 0.5}}}}, "experiments": None}]}]},
    ]  # fmt: skip
    rows = parse_exp_show(entries)
    assert [(r.name, r.kind, r.baseline) for r in rows] == [
        ("workspace", "workspace", None),
        ("main", "baseline", None),
        ("e1", "experiment", "main"),
    ]
    assert rows[2].params == {"train.cv": 5, "other.yaml:k": 1}
    assert rows[2].metrics == {"score": 0.5} and rows[1].metrics == {}
    assert rows[2].rev == "bbbbbbb"


@pytest.mark.slow
def test_exp_run_sweep_and_show(repo):
    sweep = ["-S", "train.search.cv=4,5", "-S", "train.candidates=[knn,ridge]", "-n", "sweep"]
    result = runner.invoke(app, ["exp", "run", "-C", str(repo), *sweep])
    assert result.exit_code == 0, result.output
    assert "sweep-1" in result.output and "sweep-2" in result.output
    assert json.loads((repo / "metrics.json").read_text())["n_candidates"] == 2  # the list param arrived

    result = runner.invoke(app, ["exp", "show", "-C", str(repo), "--json", "--sort-by", "score"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    exps = [r for r in data["experiments"] if r["kind"] == "experiment"]
    assert [r["name"] for r in exps] == ["sweep-2", "sweep-1"]  # sorted by score, best first
    assert {r["name"]: r["metrics"]["score"] for r in exps} == {"sweep-1": 0.4, "sweep-2": 0.5}
    assert {r["name"]: r["params"]["train.search.cv"] for r in exps} == {"sweep-1": 4, "sweep-2": 5}
    assert "train.search.cv" in data["param_columns"] and "seed" not in data["param_columns"]
    assert data["metric_columns"] == ["score", "n_candidates"]
    assert all(r["metrics"]["n_candidates"] == 2 for r in exps)

    result = runner.invoke(app, ["exp", "show", "-C", str(repo)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "sweep-1" in result.output and "train.search.cv" in result.output


@pytest.mark.slow
def test_a_param_typo_fails_before_dvc_runs(tmp_path):
    write_params(tmp_path, PARAMS)  # no git, no DVC: the check must come first
    result = runner.invoke(app, ["exp", "run", "-C", str(tmp_path), "-S", "train.serch.cv=3"])
    assert result.exit_code == EXIT_USAGE
    assert "train.serch" in result.output and "did you mean 'search'" in result.output
    result = runner.invoke(app, ["exp", "run", "-C", str(tmp_path), "-S", "train.search.cv=1"])
    assert result.exit_code == EXIT_USAGE and "train.search.cv" in result.output


@pytest.mark.slow
def test_a_failing_stage_keeps_its_exit_code(repo):
    result = runner.invoke(app, ["exp", "run", "-C", str(repo), "-S", "train.search.cv=9"])
    assert result.exit_code == EXIT_GATE_REJECTED, result.output


def test_experiments_need_a_commit(tmp_path):
    write_params(tmp_path, PARAMS)
    git(tmp_path, "init", "-q")
    result = runner.invoke(app, ["exp", "show", "-C", str(tmp_path)])
    assert result.exit_code == EXIT_NOT_FOUND
    assert "commit" in result.output
