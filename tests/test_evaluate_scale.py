"""`mlctl evaluate` on splits larger than its caps: seeded samples, stated in the reports; exact where cheap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from evaluate_helpers import make_data, train_project
from sklearn import metrics as skm

from mlctl.core.fileio import read_json
from mlctl.core.project import Project
from mlctl.model.metrics import Scored, bootstrap
from mlctl.params import load_params
from mlctl.stages.evaluate import curves, run
from mlctl.stages.evaluate.slices import levels

CAPS = {"bootstrap_rows": 200, "importance_rows": 150, "plot_rows": 120}


def _run(root: Path):
    project = Project(root)
    params = load_params(project.params_path)
    return run(params.evaluate, params.common, project)


def _scored(n: int, seed: int = 0) -> Scored:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.25 * y + rng.uniform(0, 0.75, n), 0, 1)
    return Scored("classification", y, (p1 > 0.5).astype(int), np.column_stack([1 - p1, p1]), True, ["no", "yes"])


def test_a_split_larger_than_the_caps_uses_the_caps_and_says_so(tmp_path):
    test = make_data(n=1200, seed=5)  # 1,200 test rows against caps of 120-200
    root = train_project(tmp_path, test=test, evaluate={"bootstrap": 30, "slices": ["region"], **CAPS})
    result = _run(root)
    assert result.rows == 1200
    assert result.sampling == {
        "rows": 1200,
        "bootstrap_rows": 200,
        "importance_rows": 150,
        "confusion_rows": 120,
        "capped": ["bootstrap_rows", "confusion_rows", "importance_rows"],
    }
    assert len(result.plots["confusion"]) == 120
    assert sum(s["rows"] for s in result.slices["slices"] + result.slices["skipped"]) == 1200  # slices: every row
    intervals = read_json(root / "metrics/intervals.json")
    assert intervals["sampling"] == {"rows": 1200, "bootstrap_rows": 200, "importance_rows": 150, "confusion_rows": 120}
    card = (root / "reports/model_card.md").read_text()
    assert "the intervals resample 200 rows at a time, rescaled to all 1,200" in card
    assert "permutation importance is measured on a seeded sample of 150 rows" in card
    assert "confusion plot holds a seeded sample of 120 rows" in card
    assert _run(root).importance == result.importance  # seeded: the same sample each run


def test_a_split_under_the_caps_is_used_whole_and_the_card_mentions_no_sample(tmp_path):
    root = train_project(tmp_path, evaluate={"bootstrap": 20})  # 60 test rows, default caps
    result = _run(root)
    assert result.sampling["capped"] == [] and result.sampling["bootstrap_rows"] == 60
    assert "Sampled" not in (root / "reports/model_card.md").read_text()


def test_m_out_of_n_intervals_have_the_width_of_the_full_split():
    s = _scored(20_000)
    full = bootstrap(s, 200, 1)
    capped = bootstrap(s, 200, 1, max_rows=2_000)
    for name in ("accuracy", "roc_auc", "brier"):
        width, capped_width = full[name]["high"] - full[name]["low"], capped[name]["high"] - capped[name]["low"]
        assert capped_width == pytest.approx(width, rel=0.3), name  # not sqrt(10) = 3.2x wider
        point = (full[name]["high"] + full[name]["low"]) / 2
        assert capped[name]["low"] < point < capped[name]["high"], name


def test_curves_are_exact_through_fewer_points_and_calibration_counts_every_row():
    s = _scored(30_000, seed=2)
    roc, _ = curves.roc(s)
    assert len(roc) <= curves.MAX_POINTS
    fpr, tpr, _ = skm.roc_curve(s.y == 1, s.scores[:, 1])
    assert (roc[0]["fpr"], roc[0]["tpr"]) == (fpr[0], tpr[0]) and (roc[-1]["fpr"], roc[-1]["tpr"]) == (1.0, 1.0)
    pr, _ = curves.precision_recall(s)
    assert len(pr) <= curves.MAX_POINTS and pr[-1]["threshold"] is None
    calibration, _ = curves.calibration(s)
    assert sum(b["rows"] for b in calibration) == 30_000
    first = calibration[0]
    mask = s.scores[:, 1] < 0.1
    assert first["fraction_positive"] == pytest.approx(s.y[mask].mean())
    assert first["mean_predicted"] == pytest.approx(s.scores[mask, 1].mean())


def test_slice_levels_match_the_values():
    df = make_data(n=500, seed=3)
    df.loc[:10, "region"] = None
    found = levels(df, "region")
    names = [name for name, _ in found]
    assert names == sorted(names)
    values = df["region"].astype("string").fillna("(missing)").to_numpy(dtype=object)
    for name, rows in found:
        assert np.array_equal(rows, np.flatnonzero(values == name))


def test_binary_auc_is_scipys_rank_statistic_and_sklearns_area():
    """The numpy ranks give the same AUC as scipy's rankdata, bit for bit, ties included, and sklearn's."""
    import numpy as np
    from scipy.stats import rankdata
    from sklearn.metrics import roc_auc_score

    from mlctl.model.metrics import binary_auc

    rng = np.random.default_rng(3)
    for n, digits in ((7, 1), (500, 2), (5_000, 3), (20_000, 8)):  # few and many ties
        score = np.round(rng.random(n), digits)
        positive = rng.random(n) < 0.3
        positive[:2] = [True, False]
        ranks = rankdata(score)
        n_pos = int(positive.sum())
        expected = (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (n - n_pos))
        assert binary_auc(positive, score) == expected
        assert abs(binary_auc(positive, score) - roc_auc_score(positive, score)) < 1e-12


def test_resampled_auc_is_binary_auc_of_each_resample_and_the_bootstraps_are_unchanged():
    """One sort for every resample gives each resample's AUC exactly; NaN where a class was not drawn."""
    from mlctl.model.metrics import binary_auc, paired_bootstrap, resampled_auc

    rng = np.random.default_rng(5)
    for n, digits in ((6, 1), (300, 2), (4_000, 6)):  # heavy and light ties
        score = np.round(rng.random(n), digits)
        positive = rng.random(n) < 0.25
        positive[:2] = [True, False]
        draws = rng.integers(0, n, (40, n))
        draws[0] = np.flatnonzero(~positive)[0]  # one resample of a single negative row, drawn n times
        got = resampled_auc(positive, score, draws)
        assert np.isnan(got[0])
        for row, value in zip(draws[1:], got[1:], strict=True):
            if 0 < positive[row].sum() < n:
                assert value == binary_auc(positive[row], score[row])
            else:
                assert np.isnan(value)

    # the bootstraps draw the same resamples as one `integers` call per resample did, so their intervals
    # equal a per-resample loop over binary_auc
    y = (rng.random(2_000) < 0.3).astype(int)
    p, q = np.round(rng.random(2_000) * 0.6 + 0.3 * y, 3), np.round(rng.random(2_000) * 0.6 + 0.2 * y, 3)

    def scored(s):
        return Scored("classification", y, (s > 0.5).astype(int), np.column_stack([1 - s, s]), True, [0, 1])

    loop = np.random.default_rng(11)
    diffs = []
    for _ in range(50):
        idx = loop.integers(0, len(y), len(y))
        diffs.append(binary_auc(y[idx] == 1, p[idx]) - binary_auc(y[idx] == 1, q[idx]))
    pair = paired_bootstrap(scored(p), scored(q), "roc_auc", 50, 11)
    assert [pair["low"], pair["high"]] == list(np.quantile(diffs, [0.025, 0.975]))
    loop = np.random.default_rng(11)
    aucs = [binary_auc(y[i] == 1, p[i]) for i in (loop.integers(0, len(y), len(y)) for _ in range(50))]
    interval = bootstrap(scored(p), 50, 11)["roc_auc"]
    assert [interval["low"], interval["high"]] == list(np.quantile(aucs, [0.025, 0.975]))


def test_binary_roc_auc_importance_is_scikit_learns_with_text_labels():
    """The 0/1 rank-statistic scorer gives scikit-learn's roc_auc permutation importances (text labels)."""
    import pandas as pd
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400), "c": rng.normal(size=400)})
    y = pd.Series(np.where(X["a"] - 0.5 * X["b"] + rng.normal(size=400) > 0, "yes", "no"))
    model = LogisticRegression().fit(X, y)
    ours = {r["feature"]: r for r in curves.permutation_importance(model, X, y, "roc_auc", 4, 9)}
    theirs = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=4, random_state=9)
    for name, mean, std in zip(X.columns, theirs.importances_mean, theirs.importances_std, strict=True):
        assert abs(ours[name]["importance"] - mean) < 1e-12 and abs(ours[name]["std"] - std) < 1e-12
    assert ours["a"]["importance"] > ours["c"]["importance"]
