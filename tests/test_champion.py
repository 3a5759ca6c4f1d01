"""The gate's champion rule: the champion's model fetched at a git revision, scored on the candidate's rows.

These tests use git-tracked models (dvc.api reads them from git); test_champion_dvc.py
runs the same through `dvc repro`, a DVC remote and the registry.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import git
from evaluate_helpers import train_project
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from mlctl.core.errors import GateRejectedError
from mlctl.core.fileio import load_skops, read_json, read_table, save_skops
from mlctl.core.project import Project
from mlctl.model.features import Feature, to_model_frame
from mlctl.model.metrics import Scored, paired_bootstrap
from mlctl.params import load_params
from mlctl.params.gate import GateParams
from mlctl.stages import evaluate
from mlctl.stages.gate import decide, run
from mlctl.stages.gate.champion import Champion, rows_digest


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    root = train_project(tmp_path_factory.mktemp("champion") / "project")
    params = load_params(root / "params.yaml")
    evaluate.run(params.evaluate, params.common, Project(root))
    return root


@pytest.fixture
def repo(evaluated, tmp_path):
    """A copy of the evaluated project as a git repository (nothing committed yet)."""
    root = tmp_path / "project"
    shutil.copytree(evaluated, root)
    git(root, "init", "-q", "-b", "main")
    return root


def set_gate(root: Path, **gate) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["gate"] = gate
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


def shuffled_model(root: Path) -> None:
    """Refit models/model.skops on shuffled labels: no better than chance on any rows."""
    info = read_json(root / "models/train.json")
    train = read_table(root / "data/processed/train.parquet")
    X = to_model_frame(train, [Feature(f["name"], f["kind"]) for f in info["features"]])
    y = train["target"].sample(frac=1.0, random_state=1).to_numpy()
    save_skops(clone(load_skops(root / "models/model.skops")).fit(X, y), root / "models/model.skops")


def gate(root: Path):
    params = load_params(root / "params.yaml")
    return run(params.gate, params.common, Project(root))


def champion_rule(root: Path) -> dict:
    return next(r for r in read_json(root / "reports/gate.json")["rules"] if r["rule"] == "champion")


def test_paired_interval_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 2, n)
    good = np.clip(y * 0.6 + rng.uniform(0, 0.5, n), 0, 1)
    weak = rng.uniform(0, 1, n)

    def scored(p):
        return Scored("classification", y, (p > 0.5).astype(int), np.column_stack([1 - p, p]), True, ["n", "y"])

    got = paired_bootstrap(scored(good), scored(weak), "roc_auc", 300, seed=42)
    direct, draws = np.random.default_rng(42), []
    for _ in range(300):
        idx = direct.integers(0, n, n)
        draws.append(roc_auc_score(y[idx], good[idx]) - roc_auc_score(y[idx], weak[idx]))
    low, high = np.quantile(draws, [0.025, 0.975])
    assert got["low"] == pytest.approx(low) and got["high"] == pytest.approx(high)
    assert got["difference"] == pytest.approx(roc_auc_score(y, good) - roc_auc_score(y, weak))
    assert got["defined"] == 300
    with pytest.raises(ValueError, match="same rows"):
        paired_bootstrap(scored(good), scored(weak).take(np.arange(n - 1)), "roc_auc", 10, seed=0)


def _pair(cand, champ, low, high, metric="roc_auc"):
    pair = {"candidate": cand, "champion": champ, "difference": cand - champ, "low": low, "high": high}
    return {metric: {**pair, "metric": metric, "confidence": 0.95, "resamples": 100, "seed": 0, "defined": 100}}


def test_the_rule_judges_the_paired_interval_against_the_tolerance():
    evaluated = {"model": {"roc_auc": 0.80}, "baseline": {"roc_auc": 0.5}}
    params = GateParams(champion={"ref": "main", "tolerance": 0.01})
    ok = Champion("main", commit="abc", rows=60, paired=_pair(0.80, 0.81, -0.009, 0.02))
    _, rules = decide(params, "classification", evaluated, None, ok)
    assert rules[1].rule == "champion" and rules[1].passed and "same 60 test rows" in rules[1].detail
    worse = Champion("main", commit="abc", rows=60, paired=_pair(0.80, 0.83, -0.011, 0.02))
    _, rules = decide(params, "classification", evaluated, None, worse)
    assert not rules[1].passed and rules[1].limit == -0.01
    errors = GateParams(champion={"ref": "main", "metrics": ["log_loss"], "tolerance": 0.0})
    evaluated["model"]["log_loss"] = 0.5
    higher = Champion("main", commit="abc", rows=60, paired=_pair(0.5, 0.4, 0.01, 0.2, "log_loss"))
    _, rules = decide(errors, "classification", evaluated, None, higher)
    assert not rules[1].passed  # an error metric may not rise beyond the tolerance
    lower = Champion("main", commit="abc", rows=60, paired=_pair(0.4, 0.5, -0.2, -0.01, "log_loss"))
    assert decide(errors, "classification", evaluated, None, lower)[1][1].passed


def test_a_truly_worse_candidate_is_rejected_on_the_same_rows(repo):
    commit(repo, "champion")  # the good model
    shuffled_model(repo)
    set_gate(repo, champion={"ref": "HEAD", "tolerance": 0.01})
    with pytest.raises(GateRejectedError, match="champion:roc_auc"):
        gate(repo)
    report = read_json(repo / "reports/gate.json")
    champ = report["champion"]
    test = read_table(repo / "data/processed/test.parquet")
    assert champ["rows"] == len(test) and champ["rows_sha256"] == rows_digest(test)
    assert champ["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert champ["scores"]["champion"]["roc_auc"] > champ["scores"]["candidate"]["roc_auc"]
    pair = champ["paired"]["roc_auc"]
    assert pair["high"] < 0 and pair["seed"] == 0
    assert champion_rule(repo)["value"] == pytest.approx(pair["difference"])
    card = (repo / "reports/model_card.md").read_text()
    section = card[card.index("## Champion on the same rows") :]
    assert f"(commit `{champ['commit'][:12]}`)" in section
    assert f"same {len(test)} test rows (sha256 `{champ['rows_sha256'][:16]}`)" in section
    cand, chmp = champ["scores"]["candidate"]["roc_auc"], champ["scores"]["champion"]["roc_auc"]
    assert f"| roc_auc | {cand:.4f} | {chmp:.4f} | {pair['difference']:+.4f} | [{pair['low']:.4f}, " in section
    assert "Gate: FAILED" in section and card.count("## Champion on the same rows") == 1


def test_the_model_card_says_when_no_champion_was_compared(repo):
    card = (repo / "reports/model_card.md").read_text()
    assert "Not compared yet: `mlctl gate`" in card  # as evaluate wrote it
    set_gate(repo, champion={"ref": "no-such-branch"})
    gate(repo)
    card = (repo / "reports/model_card.md").read_text()
    assert "Champion `no-such-branch` not compared: revision 'no-such-branch' does not exist" in card
    assert "Not compared yet" not in card
    set_gate(repo)
    gate(repo)  # the section is replaced, not appended
    card = (repo / "reports/model_card.md").read_text()
    assert card.count("## Champion on the same rows") == 1 and "No champion configured" in card


def test_a_better_candidate_passes(repo):
    good = (repo / "models/model.skops").read_bytes()
    shuffled_model(repo)
    commit(repo, "a weak champion")
    (repo / "models/model.skops").write_bytes(good)
    set_gate(repo, champion={"ref": "main", "tolerance": 0.0})
    result = gate(repo)
    rule = next(r for r in result.rules if r.rule == "champion")
    assert rule.passed and not rule.skipped and rule.value > 0


def test_a_stale_champion_number_does_not_reject_an_equal_model(repo):
    """The champion's committed evaluate.json says 1.01 (its own old split); on today's rows it equals the candidate."""
    current = (repo / "metrics/evaluate.json").read_text()
    stale = json.loads(current)
    stale["model"]["roc_auc"] = 1.01
    (repo / "metrics/evaluate.json").write_text(json.dumps(stale))
    commit(repo, "champion with a stale number")
    (repo / "metrics/evaluate.json").write_text(current)
    set_gate(repo, champion={"ref": "HEAD", "tolerance": 0.0})
    result = gate(repo)
    rule = next(r for r in result.rules if r.rule == "champion")
    assert rule.passed and rule.value == 0.0 and "1.01" not in rule.detail


def test_metric_value_equals_compute():
    from mlctl.model.metrics import compute, metric_value

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 50)
    p = rng.uniform(0, 1, 50)
    s = Scored("classification", y, (p > 0.5).astype(int), np.column_stack([1 - p, p]), True, ["a", "b"])
    full = compute(s)[0]
    for metric in ("roc_auc", "accuracy", "f1", "log_loss"):
        assert metric_value(s, metric) == pytest.approx(full[metric])
    one_class = s.take(np.flatnonzero(y == 1))
    assert metric_value(one_class, "roc_auc") is None and compute(one_class)[0]["roc_auc"] is None
