"""The continuous-training loop on the default dataset, end to end with real git, DVC and the CLI.

A drifted, labelled batch arrives; `mlctl monitor` flags it; `mlctl retrain`
appends it, re-runs the pipeline and commits a candidate on a branch; the gate
judges it against the champion (the model on main); the registry follows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import GIT_IDENTITY, REPO, git

from mlctl.core.errors import EXIT_DRIFT, EXIT_GATE_REJECTED
from mlctl.repo import registry

pytestmark = pytest.mark.slow

IDENTITY = GIT_IDENTITY


def mlctl(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, **IDENTITY, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "mlctl", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"mlctl {args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def default_project(root: Path) -> Path:
    """This repository's own project (embedded data, params, dvc.yaml), with a small search budget."""
    for rel in ["params.yaml", "dvc.yaml", "data/sources/hdma.csv", "data/schema.yaml", "data/profile.json"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes((REPO / rel).read_bytes())
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["candidates"] = ["logistic_regression"]
    params["train"]["spaces"] = {"logistic_regression": {"C": [0.1, 1.0]}}
    params["train"]["search"] = {"method": "grid", "cv": 2, "n_jobs": 1, "scoring": "roc_auc"}
    params["evaluate"]["bootstrap"] = 50
    params["evaluate"]["permutation_repeats"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git(root, "init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    return root


def drifted_batch(n: int = 800, seed: int = 5) -> pd.DataFrame:
    """New labelled applications where debt ratios rose: a shift in the inputs."""
    rng = np.random.default_rng(seed)
    src = pd.read_csv(REPO / "data/sources/hdma.csv")
    batch = src.sample(n=n, replace=True, random_state=seed).reset_index(drop=True)
    batch["dir"] = batch["dir"] * 1.6 + rng.normal(0, 0.02, n)
    batch["hir"] = batch["hir"] * 1.5 + rng.normal(0, 0.02, n)
    batch["lvr"] = (batch["lvr"] * 1.2).clip(upper=1.5)
    return batch


@pytest.fixture(scope="module")
def champion(tmp_path_factory) -> Path:
    root = default_project(tmp_path_factory.mktemp("ct"))
    mlctl(root, "run")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "champion model")
    env_backup = dict(os.environ)
    os.environ.update(IDENTITY)
    try:
        registry.register(root, "hdma")
        registry.promote(root, "hdma", "latest", "prod")
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    return root


def test_monitor_flags_drifted_batch_then_retrain_produces_a_judged_candidate(champion):
    root = champion
    incoming = root / "incoming"  # user paths must stay inside the project
    incoming.mkdir()
    batch = drifted_batch()
    batch.to_csv(incoming / "batch.csv", index=False)

    # a fresh sample of the reference distribution is not flagged
    fresh = pd.read_csv(REPO / "data/sources/hdma.csv").sample(n=800, random_state=11)
    fresh.to_csv(incoming / "fresh.csv", index=False)
    ok = mlctl(root, "monitor", str(incoming / "fresh.csv"), "--json", check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    flagged = mlctl(root, "monitor", str(incoming / "batch.csv"), "--json", check=False)
    assert flagged.returncode == EXIT_DRIFT, flagged.stdout + flagged.stderr
    report = json.loads((root / "reports/monitor.json").read_text())
    assert report["retrain_advised"] is True
    drifted = {f["feature"] for f in report["drift"]["features"] if f["drifted"]}
    assert {"dir", "hir"} & drifted

    before_rows = json.loads((root / "data/raw/manifest.json").read_text())["rows"]
    proc = mlctl(
        root,
        "retrain",
        "--data",
        str(incoming / "batch.csv"),
        "--trigger",
        "drift",
        "--branch",
        "retrain/test",
        "--json",
        check=False,
    )
    assert proc.returncode in (0, EXIT_GATE_REJECTED), proc.stdout + proc.stderr
    result = json.loads(proc.stdout.split("\n}\n")[0] + "\n}")
    assert result["branch"] == "retrain/test" and result["appended_rows"] == len(batch)
    assert result["rows_after"] == before_rows + len(batch)
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "retrain/test"
    assert git(root, "log", "-1", "--format=%s").startswith("retrain (drift): candidate")
    gate = json.loads((root / "reports/gate.json").read_text())
    assert any(r["rule"] == "champion" for r in gate["rules"])  # judged against the model on main
    assert gate["passed"] is (proc.returncode == 0)

    os.environ.update(IDENTITY)
    version = registry.register(root, "hdma", "HEAD")
    if gate["passed"]:
        registry.promote(root, "hdma", "latest", "prod")
        assert registry.resolve(root, "hdma@prod").commit == version.commit
    else:  # a rejected candidate can never reach production
        with pytest.raises(Exception, match="gate"):
            registry.promote(root, "hdma", "latest", "prod")
        assert registry.resolve(root, "hdma@prod").commit != version.commit
