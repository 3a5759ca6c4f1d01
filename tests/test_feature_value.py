"""Feature value (D2): permutation importance with paired-bootstrap intervals; useless features listed and gated."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from evaluate_helpers import train_project

from mlctl.core.errors import GateRejectedError
from mlctl.core.fileio import load_skops, read_json, read_table
from mlctl.core.project import Project
from mlctl.model.features import Feature, to_model_frame
from mlctl.model.metrics import metric_value, paired_bootstrap, score
from mlctl.params import load_params
from mlctl.stages import evaluate, gate


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = train_project(tmp_path_factory.mktemp("value") / "p", n=600)
    params = load_params(root / "params.yaml")
    evaluate.run(params.evaluate, params.common, Project(root))
    return root


def test_signal_is_kept_and_noise_is_a_candidate_to_drop(evaluated):
    data = read_json(evaluated / "metrics/features.json")
    by_name = {r["feature"]: r for r in data["features"]}
    assert data["metric"] == "roc_auc" and data["resamples"] == 50
    assert not by_name["x1"]["useless"] and by_name["x1"]["low"] > 0.1  # the strongest signal
    assert by_name["count"]["useless"] and by_name["count"]["low"] <= 0 <= by_name["count"]["high"] + 1e-12
    assert data["useless"] == [r["feature"] for r in data["features"] if r["useless"]] and "x1" not in data["useless"]
    card = (evaluated / "reports/model_card.md").read_text()
    assert "## Feature value" in card and f"**Candidates to drop ({len(data['useless'])})**" in card
    assert all(f"`{name}`" in card for name in data["useless"])


def test_the_interval_is_a_paired_bootstrap_of_the_shuffled_column(evaluated):
    """Recomputed directly: the first feature shuffled with the same seed, the same paired bootstrap."""
    info = read_json(evaluated / "models/train.json")
    test = read_table(evaluated / "data/processed/test.parquet")
    model = load_skops(evaluated / "models/model.skops")
    X = to_model_frame(test, [Feature(f["name"], f["kind"]) for f in info["features"]])
    base = score(model, X, test["target"], "classification", info["classes"])
    shuffled = X.copy()
    first = X.columns[0]
    shuffled[first] = np.random.default_rng(0).permutation(shuffled[first].to_numpy())
    permuted = score(model, shuffled, test["target"], "classification", info["classes"])
    pair = paired_bootstrap(base, permuted, "roc_auc", 50, 0)
    record = next(r for r in read_json(evaluated / "metrics/features.json")["features"] if r["feature"] == first)
    assert record["importance"] == pytest.approx(metric_value(base, "roc_auc") - metric_value(permuted, "roc_auc"))
    assert (record["low"], record["high"]) == pytest.approx((pair["low"], pair["high"]))


def _gate(root, **rules):
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["gate"] = rules
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    p = load_params(root / "params.yaml")
    return gate.run(p.gate, p.common, Project(root))


def test_the_gate_counts_useless_features_only_when_asked(evaluated, tmp_path):
    import shutil

    root = tmp_path / "p"
    shutil.copytree(evaluated, root)
    useless = read_json(root / "metrics/features.json")["useless"]
    assert useless  # the data has noise columns
    assert not [r for r in _gate(root).rules if r.rule == "useless_features"]  # off by default
    rule = next(r for r in _gate(root, max_useless_features=len(useless)).rules if r.rule == "useless_features")
    assert rule.passed and rule.value == len(useless) and all(n in rule.detail for n in useless)
    with pytest.raises(GateRejectedError, match="useless_features"):
        _gate(root, max_useless_features=len(useless) - 1)
