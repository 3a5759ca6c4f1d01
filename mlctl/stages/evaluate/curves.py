"""Plot data for DVC: flat records (one dict per point) that `dvc plots` templates draw.

Multiclass ROC, precision-recall and calibration are micro-averaged one-vs-rest
(every class's one-hot column against its probability, pooled), so each plot is
one curve whatever the number of classes; ``notes`` says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from mlctl.model.metrics import Scored

MAX_POINTS = 5000  # scatter plots keep a seeded sample: a browser draws 5,000 points, not a million
CALIBRATION_BINS = 10


def _num(value: Any) -> float | None:
    import math

    value = float(value)
    return value if math.isfinite(value) else None


def sample_rows(n: int, cap: int, seed: int) -> np.ndarray:
    """Row positions: all ``n``, or a seeded sample of ``cap`` of them in their original order."""
    import numpy as np

    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def confusion(s: Scored, max_rows: int | None = None, seed: int = 0) -> list[dict[str, str]]:
    """One record per row, actual and predicted label: the `confusion` template counts them.

    Above ``max_rows`` rows, a seeded sample of that many (the shares stay, the counts shrink).
    """
    names = [str(c) for c in s.classes]
    idx = sample_rows(len(s), max_rows or len(s), seed)
    return [{"actual": names[a], "predicted": names[p]} for a, p in zip(s.y[idx], s.pred[idx], strict=True)]


def _thin(n: int) -> np.ndarray:
    """At most MAX_POINTS vertices of an n-point curve, evenly spaced, first and last kept."""
    import numpy as np

    if n <= MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(int))


def _binary_view(s: Scored) -> tuple[np.ndarray, np.ndarray, str]:
    """(is positive, score) pairs: the positive class for binary, pooled one-vs-rest otherwise."""
    import numpy as np

    if len(s.classes) == 2:
        return s.y == 1, s.scores[:, 1], f"positive class {s.classes[1]!r}"
    onehot = np.eye(len(s.classes), dtype=bool)[s.y]
    return onehot.ravel(), s.scores.ravel(), "micro-averaged one-vs-rest over all classes"


def roc(s: Scored) -> tuple[list[dict], str | None]:
    """ROC curve records (fpr, tpr, threshold) and a note when it is pooled or impossible."""
    from sklearn.metrics import roc_curve

    if s.scores is None:
        return [], "no ROC curve: the model gives no scores"
    positive, score, what = _binary_view(s)
    if positive.all() or not positive.any():
        return [], "no ROC curve: the data has a single class"
    fpr, tpr, thr = roc_curve(positive, score)
    keep = _thin(len(fpr))  # the exact curve through fewer vertices
    fpr, tpr, thr = fpr[keep], tpr[keep], thr[keep]
    records = [{"fpr": _num(f), "tpr": _num(t), "threshold": _num(h)} for f, t, h in zip(fpr, tpr, thr, strict=True)]
    return records, None if len(s.classes) == 2 else f"ROC curve {what}"


def precision_recall(s: Scored) -> tuple[list[dict], str | None]:
    """Precision-recall records (recall, precision, threshold; the last point has none)."""
    from sklearn.metrics import precision_recall_curve

    if s.scores is None:
        return [], "no precision-recall curve: the model gives no scores"
    positive, score, what = _binary_view(s)
    if not positive.any():
        return [], "no precision-recall curve: no positive rows"
    import numpy as np

    precision, recall, thr = precision_recall_curve(positive, score)
    thresholds = np.array([*thr, None], dtype=object)
    keep = _thin(len(precision))
    precision, recall, thresholds = precision[keep], recall[keep], thresholds[keep]
    records = [
        {"recall": _num(r), "precision": _num(p), "threshold": None if t is None else _num(t)}
        for r, p, t in zip(recall, precision, thresholds, strict=True)
    ]
    return records, None if len(s.classes) == 2 else f"precision-recall curve {what}"


def calibration(s: Scored, bins: int = CALIBRATION_BINS) -> tuple[list[dict], str | None]:
    """Reliability records per probability bin: mean predicted, fraction positive, rows."""
    import numpy as np

    if s.scores is None or not s.is_proba:
        return [], "no calibration curve: the model gives no probabilities"
    positive, proba, what = _binary_view(s)
    which = np.clip((proba * bins).astype(int), 0, bins - 1)
    rows = np.bincount(which, minlength=bins)  # one pass over every row, whatever their number
    predicted = np.bincount(which, weights=proba, minlength=bins)
    positives = np.bincount(which, weights=positive.astype(float), minlength=bins)
    records = [
        {
            "bin": b,
            "bin_low": b / bins,
            "bin_high": (b + 1) / bins,
            "mean_predicted": float(predicted[b] / rows[b]),
            "fraction_positive": float(positives[b] / rows[b]),
            "rows": int(rows[b]),
        }
        for b in range(bins)
        if rows[b]
    ]
    return records, None if len(s.classes) == 2 else f"calibration {what}"


def _sample(n: int, seed: int) -> np.ndarray:
    return sample_rows(n, MAX_POINTS, seed)


def predicted_vs_actual(s: Scored, seed: int) -> list[dict]:
    """Regression: (actual, predicted) per row, a seeded sample beyond MAX_POINTS."""
    return [{"actual": float(s.y[i]), "predicted": float(s.pred[i])} for i in _sample(len(s), seed)]


def residuals(s: Scored, seed: int) -> list[dict]:
    """Regression: (predicted, residual = actual - predicted) per row."""
    return [{"predicted": float(s.pred[i]), "residual": float(s.y[i] - s.pred[i])} for i in _sample(len(s), seed)]


def permutation_importance(
    model: Any, X: Any, y: Any, scoring: str, repeats: int, seed: int, max_rows: int | None = None
) -> list[dict[str, Any]]:
    """Drop in ``scoring`` when each input feature is shuffled, largest first (on at most ``max_rows`` rows)."""
    import numpy as np
    from sklearn.inspection import permutation_importance as sk_permutation_importance
    from threadpoolctl import threadpool_limits

    if max_rows is not None and len(X) > max_rows:
        idx = sample_rows(len(X), max_rows, seed)
        X, y = X.iloc[idx], y.iloc[idx] if hasattr(y, "iloc") else y[idx]
    scorer: Any = scoring
    classes = list(getattr(model, "classes_", []))
    if scoring == "roc_auc" and len(classes) == 2:
        # scikit-learn's roc_auc scorer checks the text labels on every call (np.unique over objects: ~30%
        # of this step); the rank statistic on a 0/1 array is the same area (to 1e-12)
        from mlctl.model.metrics import binary_auc

        y = (np.asarray(y, dtype=object).astype(str) == str(classes[1])).astype(np.int8)

        def scorer(estimator: Any, features: Any, positive: Any) -> float:
            return binary_auc(positive == 1, estimator.predict_proba(features)[:, 1])

    # One OpenMP thread: histogram boosting opens a parallel region per tree in every one of these
    # features x repeats predictions, and on a busy machine each region waits for a descheduled thread.
    with threadpool_limits(limits=1, user_api="openmp"):
        result = sk_permutation_importance(model, X, y, scoring=scorer, n_repeats=repeats, random_state=seed, n_jobs=1)
    records = [
        {"feature": str(name), "importance": float(mean), "std": float(std)}
        for name, mean, std in zip(X.columns, result.importances_mean, result.importances_std, strict=True)
    ]
    return sorted(records, key=lambda r: r["importance"], reverse=True)
