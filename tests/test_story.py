"""The whole CI/CD story, locally, with real git, DVC and the CLI in a temporary repository.

main trains a model that is registered and promoted; a branch changes a param, the
pipeline runs, the report shows the metric diff against main, the gate passes, the
model is registered and promoted and scored from the registry; a bad model is
rejected by the gate and cannot be promoted; a rollback restores the previous version.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import yaml
from conftest import GIT_IDENTITY, git, write_params
from test_pipeline_dvc import make_repo, mlctl

from mlctl.core.errors import EXIT_GATE_REJECTED

pytestmark = pytest.mark.slow

IDENTITY = GIT_IDENTITY


@pytest.fixture(autouse=True)
def identity(monkeypatch):
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)


def commit_all(root, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


def test_branch_report_gate_register_promote_reject_rollback(tmp_path):
    root = make_repo(tmp_path / "repo", "classification")
    mlctl(root, "run")
    main_commit = commit_all(root, "model v1")
    mlctl(root, "registry", "register", "clf")
    mlctl(root, "registry", "promote", "clf", "latest", "prod")

    # a branch changes one param; the pipeline re-runs from train
    git(root, "checkout", "-q", "-b", "feature")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["spaces"]["random_forest"]["n_estimators"] = [40]
    write_params(root, params)
    run = mlctl(root, "run")
    assert "train" in run.stdout
    mlctl(root, "report", "--base", "main", "--output", "reports/pr.md")
    report = (root / "reports/pr.md").read_text()
    assert "roc_auc" in report and "n_estimators" in report
    assert json.loads((root / "reports/gate.json").read_text())["passed"] is True
    feature_commit = commit_all(root, "more trees")
    assert (root / "dist").is_dir() and list((root / "dist").glob("*.tar.gz"))

    mlctl(root, "registry", "register", "clf")
    mlctl(root, "registry", "promote", "clf", "latest", "prod")
    shown = json.loads(mlctl(root, "registry", "show", "clf", "--json").stdout)
    assert [v["stages"] for v in shown["versions"]] == [[], ["prod"]]

    # the promoted model is scored straight from the registry (fetched from the DVC cache)
    mlctl(root, "predict", "data/processed/test.parquet", "scored.parquet", "--model", "clf@prod")
    scored = pd.read_parquet(root / "scored.parquet")
    assert len(scored) == len(pd.read_parquet(root / "data/processed/test.parquet"))
    fetched = json.loads((root / ".mlctl/registry/clf/v0.2.0/model.json").read_text())
    assert fetched["sha256"] == json.loads((root / "models/model.json").read_text())["sha256"]
    (root / "scored.parquet").unlink()
    for leftover in root.glob("scored.*"):
        leftover.unlink()

    # a bad model: the gate rejects it, so it can be registered but never promoted
    params["gate"]["thresholds"] = {"roc_auc": {"min": 0.9999}}
    write_params(root, params)
    rejected = mlctl(root, "run", check=False)
    assert rejected.returncode == EXIT_GATE_REJECTED
    bad_commit = commit_all(root, "impossible gate")
    mlctl(root, "registry", "register", "clf")
    refused = mlctl(root, "registry", "promote", "clf", "latest", "prod", check=False)
    assert refused.returncode == EXIT_GATE_REJECTED
    history = json.loads(mlctl(root, "registry", "history", "clf", "--json").stdout)
    prod = [e for e in history if e["event"] == "assignment"]
    assert [e["commit"] for e in prod] == [main_commit, feature_commit]
    assert bad_commit not in {e["commit"] for e in prod}

    # rollback: prod goes back to the first version, recorded as a new tag
    mlctl(root, "registry", "rollback", "clf", "prod")
    shown = json.loads(mlctl(root, "registry", "show", "clf", "--json").stdout)
    assert [v["stages"] for v in shown["versions"]] == [["prod"], [], []]
    assert "clf#prod#3" in git(root, "tag", "--list", "clf#*")
    assert os.path.exists(root / ".dvc")
