"""The drift tests as pure functions: false-alarm rate, power, attribution, test choice by size."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_frame

from mlctl.data.drift import (
    Thresholds,
    bin_edges,
    categorical_drift,
    dataset_drift,
    drift_share,
    numeric_codes,
    numeric_drift,
    psi,
)
from mlctl.model.features import infer_features
from mlctl.stages.monitor.analysis import compare_frames
from mlctl.stages.monitor.reference import Bins

SEEDS = 40


def _inputs(n: int, seed: int):
    return make_frame(n=n, seed=seed).drop(columns=["signup", "target"])


@pytest.fixture(scope="module")
def reference():
    df = _inputs(500, 0)
    return df, infer_features(df, "target")


def test_false_alarm_rate_on_fresh_samples_is_at_most_the_level(reference):
    ref, features = reference
    th = Thresholds(p_value=0.01)
    feature_alarms, dataset_alarms, tests = 0, 0, 0
    for seed in range(1, SEEDS + 1):
        results = compare_frames(ref, _inputs(500, 1000 + seed), features, th)
        assert {r.test for r in results} == {"ks", "chi2"}  # moderate samples: p-value tests
        feature_alarms += sum(r.drifted for r in results)
        dataset_alarms += dataset_drift(results, share=0.3)
        tests += len(results)
    # per feature: at the configured level with slack for 240 Bernoulli draws (mean 2.4)
    assert feature_alarms / tests <= 0.01 + 0.015
    assert dataset_alarms / SEEDS <= 0.01 + 0.015


def test_large_fresh_samples_use_distances_and_stay_quiet(reference):
    _, features = reference
    ref = _inputs(5000, 1)
    th = Thresholds()
    alarms = 0
    for seed in range(5):
        results = compare_frames(ref, _inputs(5000, 2000 + seed), features, th)
        assert {r.test for r in results} == {"wasserstein", "jensenshannon"}
        alarms += sum(r.drifted for r in results)
    assert alarms == 0


@pytest.mark.parametrize(
    ("feature", "change"),
    [
        ("x1", lambda df, rng: df.assign(x1=df["x1"] + 0.6)),
        ("x2", lambda df, rng: df.assign(x2=df["x2"] * 1.4)),
        ("count", lambda df, rng: df.assign(count=rng.integers(5, 25, len(df)))),
        ("region", lambda df, rng: df.assign(region=rng.choice(["north", "west"], len(df)))),
        ("colour", lambda df, rng: df.assign(colour=np.where(rng.random(len(df)) < 0.4, None, df["colour"]))),
    ],
)
def test_injected_drift_is_found_and_attributed(reference, feature, change):
    ref, features = reference
    rng = np.random.default_rng(7)
    cur = change(_inputs(500, 77), rng)
    results = compare_frames(ref, cur, features, Thresholds())
    drifted = [r.feature for r in results if r.drifted]
    assert drifted == [feature]


def test_label_shift_alone_is_not_data_drift(reference):
    ref, features = reference
    cur = make_frame(n=500, seed=78)
    cur["target"] = np.where(cur["region"] == "north", "yes", "no")  # a new target function
    results = compare_frames(ref, cur.drop(columns=["signup", "target"]), features, Thresholds())
    assert not dataset_drift(results, share=0.3)


def test_hypersensitive_p_values_are_replaced_by_a_distance():
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=200_000), rng.normal(0.03, 1, size=200_000)  # a negligible shift
    edges = bin_edges(ref)
    th = Thresholds()
    result = numeric_drift(
        "x", ref, cur, np.bincount(numeric_codes(ref, edges)), np.bincount(numeric_codes(cur, edges)), th
    )
    assert result.test == "wasserstein"
    assert result.statistic == pytest.approx(0.03, abs=0.01)
    assert not result.drifted
    # the same samples under KS (a huge large_sample) are "significant": the reason for the switch
    ks = numeric_drift(
        "x",
        ref,
        cur,
        np.bincount(numeric_codes(ref, edges)),
        np.bincount(numeric_codes(cur, edges)),
        Thresholds(large_sample=10**9),
    )
    assert ks.test == "ks" and ks.p_value < 1e-6 and ks.drifted


def test_large_categorical_shift_is_found_by_jensen_shannon():
    ref = np.array([5000, 3000, 2000, 0, 0])
    cur = np.array([2000, 3000, 5000, 0, 0])
    result = categorical_drift("c", ref, cur, Thresholds(), missing_bin=3)
    assert result.test == "jensenshannon" and result.drifted and result.p_value is None
    same = categorical_drift("c", ref, ref * 2, Thresholds(), missing_bin=3)
    assert same.statistic == pytest.approx(0.0, abs=1e-9) and not same.drifted


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    assert psi(np.array([10, 20, 30]), np.array([20, 40, 60])) == pytest.approx(0.0)
    small = psi(np.array([25, 25, 25, 25]), np.array([27, 25, 24, 24]))
    large = psi(np.array([25, 25, 25, 25]), np.array([70, 10, 10, 10]))
    assert 0 < small < 0.01 < 0.2 < large
    assert np.isfinite(psi(np.array([10, 0]), np.array([5, 5])))  # empty bins are floored, not infinite


def test_bins_of_low_cardinality_and_missing_values():
    edges = bin_edges(np.array([0.0, 1.0, 1.0, 0.0, np.nan]))
    assert edges.tolist() == [0.5]
    codes = numeric_codes(np.array([0.0, 1.0, np.nan, np.inf]), edges)
    assert codes.tolist() == [0, 1, 2, 2]  # missing (and infinite) values share the last bin
    b = Bins.categorical("c", np.array(["a", "b", "", "a"], dtype=object))
    assert b.labels() == ["a", "b", "(missing)", "(other)"]
    assert b.codes(np.array(["b", "zzz", ""], dtype=object)).tolist() == [1, 3, 2]


def test_drift_share_counts_only_tested_features():
    th = Thresholds()
    a = categorical_drift("a", np.array([50, 50, 0, 0]), np.array([95, 5, 0, 0]), th)
    b = categorical_drift("b", np.array([50, 50, 0, 0]), np.array([50, 50, 0, 0]), th)
    c = categorical_drift("c", np.array([50, 50, 0, 0]), np.array([0, 0, 0, 0]), th)  # no current rows
    assert a.drifted and not b.drifted and c.test == "none"
    assert drift_share([a, b, c]) == pytest.approx(0.5)
    assert dataset_drift([a, b, c], 0.5) and not dataset_drift([a, b, c], 0.6)


@pytest.mark.parametrize("seed", range(5))
def test_numpy_distances_equal_scipys(seed):
    """wasserstein and jensenshannon are computed in numpy (no scipy.stats import): the same numbers as scipy."""
    from scipy.spatial.distance import jensenshannon as scipy_js
    from scipy.stats import wasserstein_distance

    from mlctl.data.drift import jensenshannon, wasserstein

    rng = np.random.default_rng(seed)
    u, v = rng.normal(0, 1, 500 + seed), np.round(rng.normal(0.3, 2, 300), 1)  # ties too
    assert wasserstein(u, v) == pytest.approx(wasserstein_distance(u, v), rel=1e-12, abs=1e-15)
    p, q = rng.integers(0, 50, 8).astype(float), rng.integers(0, 50, 8).astype(float)
    p[0] = 0  # an empty level on one side
    assert jensenshannon(p, q) == pytest.approx(float(scipy_js(p, q, base=2)), rel=1e-12, abs=1e-15)
