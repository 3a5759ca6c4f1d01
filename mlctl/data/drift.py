"""The statistics of data drift, in one place: bins, PSI and two-sample tests, pure functions over arrays.

The test is chosen by feature type and sample size. Numeric: two-sample
Kolmogorov–Smirnov while the samples are moderate, Wasserstein distance
normalised by the reference standard deviation once they are large (with
enough rows every p-value is tiny, so a distance with a fixed threshold is
the useful question: "did it move by more than a tenth of a std?").
Categorical: chi-square on the contingency table, or Jensen–Shannon distance
for large samples. The population stability index (PSI) is computed for both
on the same bins (reference quantiles for numbers, reference levels for
categories, plus a bin for missing values and one for unseen levels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

PSI_EPS = 1e-4  # share floor: an empty bin on one side must not make PSI infinite


@dataclass(frozen=True)
class Thresholds:
    """When a single feature counts as drifted."""

    p_value: float = 0.01  # KS / chi-square level
    psi: float = 0.2
    wasserstein: float = 0.1  # in reference standard deviations
    jensenshannon: float = 0.1  # base-2 distance, in [0, 1]
    large_sample: int = 1000  # effective sample size above which distances replace tests


@dataclass
class FeatureDrift:
    """The drift finding for one feature (or for the predictions)."""

    feature: str
    kind: str  # numeric | categorical
    test: str  # ks | wasserstein | chi2 | jensenshannon | none
    statistic: float | None
    p_value: float | None
    threshold: float
    psi: float
    drifted: bool
    n_ref: int
    n_cur: int
    null_ref: float  # share of missing values
    null_cur: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def effective_size(n_ref: int, n_cur: int) -> float:
    """n·m/(n+m): what the power of a two-sample test grows with."""
    return n_ref * n_cur / (n_ref + n_cur) if n_ref + n_cur else 0.0


def bin_edges(values: np.ndarray, bins: int = 10, *, ordered: np.ndarray | None = None) -> np.ndarray:
    """Inner bin edges from reference quantiles; a low-cardinality feature gets one bin per value.

    Bins are (-inf, e0], (e0, e1], ..., (e_last, inf); the caller keeps a separate
    bin for missing values. ``ordered``: the finite values already sorted (saves a sort).
    """
    if ordered is None:
        ordered = np.sort(values[np.isfinite(values)])
    if ordered.size == 0:
        return np.array([], dtype="float64")
    uniq = ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]
    if uniq.size <= bins:  # booleans, small counts: each value its own bin, cut at midpoints
        return (uniq[:-1] + uniq[1:]) / 2
    edges = np.unique(np.quantile(ordered, np.linspace(0, 1, bins + 1)[1:-1]))
    return edges.astype("float64")


def numeric_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value: 0..len(edges) for numbers, len(edges)+1 for NaN/inf."""
    codes = np.searchsorted(edges, values, side="left").astype(np.int64)
    codes[~np.isfinite(values)] = len(edges) + 1
    return codes


def psi_shares(expected: Any, actual: Any, eps: float = PSI_EPS) -> float:
    """Population stability index Σ (a−e)·ln(a/e) between two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype="float64"), eps, None)
    a = np.clip(np.asarray(actual, dtype="float64"), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = PSI_EPS) -> float:
    """PSI over binned counts (NaN when either side is empty)."""
    ref_counts = np.asarray(ref_counts, dtype="float64")
    cur_counts = np.asarray(cur_counts, dtype="float64")
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        return float("nan")
    return psi_shares(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum(), eps)


def numeric_drift(
    name: str,
    ref_sample: np.ndarray,
    cur_sample: np.ndarray,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    thresholds: Thresholds,
) -> FeatureDrift:
    """KS (moderate samples) or normalised Wasserstein (large samples), plus PSI.

    ``*_counts`` are the exact binned counts over all rows (last bin = missing);
    ``*_sample`` are (possibly sampled) values, missing ones included or not.
    """
    ref = np.asarray(ref_sample, dtype="float64")
    cur = np.asarray(cur_sample, dtype="float64")
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    n_ref, n_cur = int(np.sum(ref_counts)), int(np.sum(cur_counts))
    valid_ref, valid_cur = n_ref - int(ref_counts[-1]), n_cur - int(cur_counts[-1])
    value_psi = psi(ref_counts, cur_counts)
    test, stat, p, threshold, moved = "none", None, None, thresholds.p_value, False
    if ref.size and cur.size:
        if effective_size(valid_ref, valid_cur) > thresholds.large_sample:
            scale = float(np.std(ref))
            test, threshold = "wasserstein", thresholds.wasserstein
            stat = wasserstein(ref, cur) / (scale if scale > 0 else 1.0)
            moved = stat > threshold
        else:
            from scipy import stats  # here only: importing scipy.stats takes ~1 s

            # the exact distribution is slow (and fails with ties) beyond small samples
            method = "exact" if ref.size * cur.size <= 10_000 else "asymp"
            res = stats.ks_2samp(ref, cur, method=method)
            test, stat, p = "ks", float(res.statistic), float(res.pvalue)
            moved = p < threshold
    return FeatureDrift(
        feature=name,
        kind="numeric",
        test=test,
        statistic=stat,
        p_value=p,
        threshold=threshold,
        psi=value_psi,
        drifted=bool(moved or (np.isfinite(value_psi) and value_psi > thresholds.psi)),
        n_ref=n_ref,
        n_cur=n_cur,
        null_ref=_share(ref_counts[-1], n_ref),
        null_cur=_share(cur_counts[-1], n_cur),
    )


def categorical_drift(
    name: str, ref_counts: np.ndarray, cur_counts: np.ndarray, thresholds: Thresholds, *, missing_bin: int | None = None
) -> FeatureDrift:
    """Chi-square (moderate samples) or Jensen–Shannon distance (large samples), plus PSI.

    The counts are per level, aligned (reference levels, then missing, then unseen).
    """
    ref_counts = np.asarray(ref_counts, dtype="float64")
    cur_counts = np.asarray(cur_counts, dtype="float64")
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    value_psi = psi(ref_counts, cur_counts)
    test, stat, p, threshold, moved = "none", None, None, thresholds.p_value, False
    if n_ref and n_cur:
        if effective_size(n_ref, n_cur) > thresholds.large_sample:
            test, threshold = "jensenshannon", thresholds.jensenshannon
            stat = jensenshannon(ref_counts / n_ref, cur_counts / n_cur)
            moved = stat > threshold
        else:
            from scipy import stats

            keep = (ref_counts + cur_counts) > 0
            table = np.vstack([ref_counts[keep], cur_counts[keep]])
            test = "chi2"
            if table.shape[1] < 2:  # one level on both sides: nothing can have moved
                stat, p = 0.0, 1.0
            else:
                res = stats.chi2_contingency(table, correction=False)
                stat, p = float(res.statistic), float(res.pvalue)
            moved = p < threshold
    null_ref = _share(ref_counts[missing_bin], n_ref) if missing_bin is not None else 0.0
    null_cur = _share(cur_counts[missing_bin], n_cur) if missing_bin is not None else 0.0
    return FeatureDrift(
        feature=name,
        kind="categorical",
        test=test,
        statistic=stat,
        p_value=p,
        threshold=threshold,
        psi=value_psi,
        drifted=bool(moved or (np.isfinite(value_psi) and value_psi > thresholds.psi)),
        n_ref=n_ref,
        n_cur=n_cur,
        null_ref=null_ref,
        null_cur=null_cur,
    )


def wasserstein(u: np.ndarray, v: np.ndarray) -> float:
    """The 1-D Wasserstein distance of two samples, as scipy.stats.wasserstein_distance computes it.

    In numpy: large samples (where it is used) need no scipy.stats, whose import takes about a second.
    """
    u_sorted, v_sorted = np.sort(u), np.sort(v)
    values = np.sort(np.concatenate([u, v]))
    deltas = np.diff(values)
    u_cdf = np.searchsorted(u_sorted, values[:-1], side="right") / u.size
    v_cdf = np.searchsorted(v_sorted, values[:-1], side="right") / v.size
    return float(np.sum(np.multiply(np.abs(u_cdf - v_cdf), deltas)))


def jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """The base-2 Jensen–Shannon distance of two distributions, as scipy.spatial.distance.jensenshannon."""
    p = np.asarray(p, dtype="float64") / np.sum(p)
    q = np.asarray(q, dtype="float64") / np.sum(q)
    m = (p + q) / 2.0

    def rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = x * np.log(x / y)
        return np.where(x > 0, out, 0.0)

    js = (np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))) / np.log(2.0)
    return float(np.sqrt(js / 2.0))


def drift_share(results: list[FeatureDrift]) -> float:
    """Share of tested features that drifted."""
    tested = [r for r in results if r.n_cur > 0]
    return sum(r.drifted for r in tested) / len(tested) if tested else 0.0


def dataset_drift(results: list[FeatureDrift], share: float) -> bool:
    """The dataset-level verdict: at least ``share`` of the features drifted."""
    return bool(results) and drift_share(results) >= share


def _share(part: float, whole: int) -> float:
    return float(part) / whole if whole else 0.0
