"""The whole pipeline through real `dvc repro` in a temporary git repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import GIT_IDENTITY, git, make_frame, write_params

from mlctl.core.catalog import PIPELINE
from mlctl.core.errors import EXIT_GATE_REJECTED
from mlctl.repo.dvcfile import render

pytestmark = pytest.mark.slow

STAGES = [s.name for s in PIPELINE if s.name != "replay"]  # from the stage registry (replay: only with replay.log)


def run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_IDENTITY, "PYTHONWARNINGS": "ignore"}  # registry tags need an identity
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def mlctl(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(cwd, sys.executable, "-m", "mlctl", *args, check=check)


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(cwd, sys.executable, "-m", "dvc", *args, check=check)


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def pipeline_params(task: str) -> dict:
    params = {
        "seed": 7,
        "target": "target",
        "task": task,
        "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
        "prepare": {
            "date_columns": ["signup"],
            "split": {"method": "random", "test_size": 0.25, "validation_size": 0.1},
        },
        "train": {
            "candidates": ["logistic_regression" if task == "classification" else "ridge", "random_forest"],
            "spaces": {"random_forest": {"n_estimators": [20], "max_depth": [4, 8]}},
            "search": {"method": "grid", "cv": 2, "n_jobs": 1},
        },
        "evaluate": {"slices": ["region"], "sensitive": "region", "bootstrap": 20, "permutation_repeats": 1},
        "gate": {"thresholds": {"roc_auc": {"min": 0.6}} if task == "classification" else {"r2": {"min": 0.3}}},
        # every section dvc.yaml lists must exist in params.yaml (DVC's rule); {} takes the defaults
        "validate": {"personal_data": []},
        "export": {},
        "predict": {},
        "bundle": {},
    }
    if task == "classification":
        params["prepare"]["split"]["method"] = "stratified"
    return params


def make_repo(root: Path, task: str) -> Path:
    (root / "data" / "sources").mkdir(parents=True)
    make_frame(task, n=400, seed=3).to_csv(root / "data" / "sources" / "data.csv", index=False)
    write_params(root, pipeline_params(task))
    (root / "dvc.yaml").write_text(render(task))
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    # The schema is a reviewed, committed file: a person makes it once from reference data.
    mlctl(root, "collect")
    mlctl(root, "schema", "infer")
    git(
        root,
        "add",
        "params.yaml",
        "dvc.yaml",
        ".dvc",
        ".dvcignore",
        "data/sources",
        "data/schema.yaml",
        "data/profile.json",
    )
    git(root, "commit", "-qm", "project")
    return root


@pytest.fixture(scope="module")
def classification_repo(tmp_path_factory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("clf"), "classification")
    first = dvc(root, "repro")
    root.joinpath(".first_run.log").write_text(first.stdout)
    return root


def test_repro_runs_every_stage_and_writes_every_artifact(classification_repo):
    root = classification_repo
    assert ran_stages(root.joinpath(".first_run.log").read_text()) == STAGES
    for rel in [
        "data/raw/data.parquet",
        "data/raw/manifest.json",
        "reports/validation.json",
        "data/processed/train.parquet",
        "data/processed/test.parquet",
        "reports/eda.html",
        "reports/eda.md",
        "models/model.skops",
        "models/baseline.skops",
        "models/train.json",
        "metrics/evaluate.json",
        "reports/model_card.md",
        "reports/gate.json",
        "models/model.onnx",
        "models/model.json",
    ]:
        assert (root / rel).exists(), rel
    assert json.loads((root / "reports/gate.json").read_text())["passed"] is True
    metrics = dvc(root, "metrics", "show", "--json").stdout
    assert "roc_auc" in metrics


def test_second_repro_does_nothing(classification_repo):
    out = dvc(classification_repo, "repro").stdout
    assert ran_stages(out) == []


def test_run_checks_params_while_dvc_starts_and_remembers_a_sound_pair(classification_repo):
    root = classification_repo
    marker = root / ".dvc/tmp/mlctl-run-check"
    marker.unlink(missing_ok=True)
    proc = mlctl(root, "run")
    assert ran_stages(proc.stdout + proc.stderr) == []
    key, written = marker.read_text().strip(), marker.stat().st_mtime_ns
    assert len(key) == 64 and int(key, 16) >= 0  # sha256 of params.yaml, dvc.yaml and the code judging them
    assert mlctl(root, "run").returncode == 0
    assert marker.stat().st_mtime_ns == written  # unchanged: the check was skipped, not redone
    good, lock = (root / "params.yaml").read_bytes(), (root / "dvc.lock").read_bytes()
    try:
        params = yaml.safe_load(good)
        params["train"]["cv"] = "three"  # a changed params.yaml is checked again, though it passed before
        write_params(root, params)
        proc = mlctl(root, "run", check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "train.cv" in proc.stderr
        assert (root / "dvc.lock").read_bytes() == lock  # DVC was stopped: nothing ran, nothing recorded
    finally:
        (root / "params.yaml").write_bytes(good)
    assert mlctl(root, "run").returncode == 0


_SPY = (
    "import subprocess, sys\n"
    "real = subprocess.Popen\n"
    "def spy(cmd, *a, **k):\n"
    "    print('SPAWN', cmd[-1], 'typer' in sys.modules, flush=True)\n"
    "    return real(cmd, *a, **k)\n"
    "subprocess.Popen = spy\n"
    "from mlctl.cli import main\n"
    "main(sys.argv[1:])\n"
)


def test_run_starts_dvc_before_typer_loads_and_stops_it_for_an_unknown_stage(classification_repo):
    root = classification_repo

    def spawned(*args: str) -> tuple[list[str], subprocess.CompletedProcess]:
        proc = run(root, sys.executable, "-c", _SPY, *args, check=False)
        return [line for line in proc.stdout.splitlines() if line.startswith("SPAWN")], proc

    # plain `mlctl run`: DVC starts before typer is imported (mlctl.cli.main), and the run is the same
    spawns, proc = spawned("run")
    assert spawns == ["SPAWN repro False"] and proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout
    # an option the early start does not read (-C): the normal path, after typer parsed it
    spawns, proc = spawned("run", "-C", str(root), "--force", "collect")
    assert spawns == ["SPAWN --force True"] and proc.returncode == 0, proc.stdout + proc.stderr
    # a stage dvc.yaml lacks: DVC was started early, then stopped with the documented error; nothing recorded
    lock = (root / "dvc.lock").read_bytes()
    spawns, proc = spawned("run", "no_such_stage")
    assert spawns == ["SPAWN no_such_stage False"]
    assert proc.returncode == 3 and "no such stage(s) ['no_such_stage']" in proc.stderr, proc.stderr
    assert (root / "dvc.lock").read_bytes() == lock


def test_changing_one_stage_params_reruns_only_it_and_descendants(classification_repo):
    root = classification_repo
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["evaluate"]["bootstrap"] = 30
    write_params(root, params)
    out = dvc(root, "repro").stdout
    ran = ran_stages(out)
    assert ran[0] == "evaluate"
    assert not {"collect", "validate", "prepare", "train"} & set(ran)


def test_run_names_params_sections_dvc_needs(tmp_path):
    (tmp_path / "dvc.yaml").write_text(render("classification"))
    write_params(tmp_path, {"target": "y", "collect": {"sources": [{"name": "s", "path": "a.csv"}]}})
    proc = mlctl(tmp_path, "run", check=False)
    assert proc.returncode == 2
    assert "validate" in proc.stderr and "validate: {}" in proc.stderr


def test_gate_rejection_stops_repro_before_export(classification_repo):
    root = classification_repo
    onnx_before = (root / "models/model.onnx").read_bytes()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["gate"]["thresholds"] = {"roc_auc": {"min": 0.9999}}
    write_params(root, params)
    proc = mlctl(root, "run", check=False)
    assert proc.returncode == EXIT_GATE_REJECTED, proc.stdout + proc.stderr
    assert "gate" in proc.stderr
    report = json.loads((root / "reports/gate.json").read_text())
    assert report["passed"] is False
    assert (root / "models/model.onnx").read_bytes() == onnx_before


@pytest.mark.parametrize("task", ["regression"])
def test_regression_pipeline(tmp_path, task):
    root = make_repo(tmp_path, task)
    proc = mlctl(root, "run")
    assert "export" in proc.stdout
    manifest = json.loads((root / "models/model.json").read_text())
    assert manifest["task"] == "regression"
    assert {i["name"] for i in manifest["inputs"]} >= {"x1", "colour", "signup_year"}
