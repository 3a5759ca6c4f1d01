"""The champion through real `dvc repro`, a DVC remote and the registry, on a test split that changed.

The champion is built, committed, pushed to a local DVC remote and promoted to
prod; then data is appended (so the test split changes), the cache is emptied
and the candidate is built: the gate must fetch the champion's model from the
remote and score it on the candidate's new rows.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import git, make_frame, write_params
from test_pipeline_dvc import dvc, mlctl

from mlctl.core.fileio import read_table
from mlctl.repo.dvcfile import render
from mlctl.stages.gate.champion import rows_digest

pytestmark = pytest.mark.slow


def params() -> dict:
    return {
        "seed": 7,
        "target": "target",
        "task": "classification",
        "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
        "prepare": {"date_columns": ["signup"], "split": {"method": "stratified", "test_size": 0.3}},
        "train": {"candidates": ["logistic_regression"], "search": {"method": "grid", "cv": 2, "n_jobs": 1}},
        "evaluate": {"bootstrap": 20, "permutation_repeats": 1},
        "gate": {"champion": {"ref": "clf@prod", "fallback": "main", "tolerance": 0.05, "resamples": 100}},
        "validate": {"personal_data": []},
        "export": {},
        "predict": {},
        "bundle": {},
    }


def test_champion_fetched_from_the_remote_and_scored_on_the_new_rows(tmp_path):
    root = tmp_path / "project"
    (root / "data" / "sources").mkdir(parents=True)
    make_frame(n=300, seed=3).to_csv(root / "data/sources/data.csv", index=False)
    write_params(root, params())
    (root / "dvc.yaml").write_text(render("classification"))
    (root / ".gitignore").write_text("/.mlctl/\n")
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    dvc(root, "remote", "add", "-d", "store", str(tmp_path / "store"))
    mlctl(root, "collect")
    mlctl(root, "schema", "infer")
    files = ["params.yaml", "dvc.yaml", ".gitignore", ".dvc", ".dvcignore", "data/sources", "data/schema.yaml"]
    git(root, "add", *files, "data/profile.json")
    git(root, "commit", "-qm", "project")

    # the first model: main has no model yet, so the rule is skipped (never passed)
    dvc(root, "repro", "gate")
    first = json.loads((root / "reports/gate.json").read_text())
    rule = next(r for r in first["rules"] if r["rule"] == "champion")
    assert rule["skipped"] and "cannot be fetched" in rule["detail"] and first["passed"]
    git(root, "add", "-A")
    git(root, "commit", "-qm", "champion")
    champion_commit = git(root, "rev-parse", "HEAD").strip()
    dvc(root, "push")
    mlctl(root, "registry", "register", "clf")
    mlctl(root, "registry", "promote", "clf", "latest", "prod")
    old_rows = read_table(root / "data/processed/test.parquet")
    champion_committed_auc = json.loads((root / "metrics/evaluate.json").read_text())["model"]["roc_auc"]

    # new data arrives: the test split changes; the local cache is gone, so the champion comes from the remote
    more = make_frame(n=200, seed=4)
    more.to_csv(root / "data/sources/data.csv", mode="a", header=False, index=False)
    shutil.rmtree(root / ".dvc" / "cache")
    dvc(root, "repro", "gate")
    report = json.loads((root / "reports/gate.json").read_text())
    champion = report["champion"]
    new_rows = read_table(root / "data/processed/test.parquet")
    assert len(new_rows) > len(old_rows)
    assert champion["rows"] == len(new_rows) and champion["rows_sha256"] == rows_digest(new_rows)
    assert champion["rows_sha256"] != rows_digest(old_rows)
    assert champion["commit"] == champion_commit and champion["version"] == "clf@v0.1.0"
    assert champion["ref"] == "clf@prod"
    # the champion was re-scored on these rows, not read from its own committed metrics
    on_new_rows = champion["scores"]["champion"]["roc_auc"]
    assert on_new_rows != pytest.approx(champion_committed_auc, abs=1e-9)
    candidate_auc = json.loads((root / "metrics/evaluate.json").read_text())["model"]["roc_auc"]
    assert champion["scores"]["candidate"]["roc_auc"] == pytest.approx(candidate_auc)
    pair = champion["paired"]["roc_auc"]
    assert pair["low"] <= pair["difference"] <= pair["high"]
    rule = next(r for r in report["rules"] if r["rule"] == "champion")
    assert not rule["skipped"] and rule["passed"] == (pair["low"] >= -0.05)
    assert (root / ".mlctl/champion" / champion_commit / "model.skops").exists()

    # neither the cache, the fetched copy nor the remote: skipped with the reason
    dvc(root, "remote", "remove", "store")
    shutil.rmtree(root / ".dvc" / "cache")
    shutil.rmtree(root / ".mlctl" / "champion")
    mlctl(root, "gate")
    rule = next(r for r in json.loads((root / "reports/gate.json").read_text())["rules"] if r["rule"] == "champion")
    assert rule["skipped"] and "cannot be fetched" in rule["detail"]
    assert pd.notna(on_new_rows)
