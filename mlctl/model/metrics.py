"""Task metrics from arrays, bootstrap confidence intervals, and their directions.

The metrics are computed with numpy from a confusion matrix, ranks or per-row
losses (tests check each one against scikit-learn), so the same code serves the
point estimate, every bootstrap resample, and every slice, and a resample costs
microseconds instead of a round of scikit-learn's input validation. A metric that
the data cannot define (one class only, no variance) is ``None`` with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

CLASSIFICATION_METRICS = [
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "brier",
]
REGRESSION_METRICS = ["rmse", "mae", "r2", "mape"]
LOWER_IS_BETTER = {"log_loss", "brier", "rmse", "mae", "mape"}
PROBA_EPS = 1e-15  # probabilities are clipped before log (a confident miss costs ~34.5 nats, not inf)


def metric_names(task: str) -> list[str]:
    """The metrics reported for ``task``, in table order."""
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def higher_is_better(metric: str) -> bool:
    """True for scores (accuracy, roc_auc, r2...), False for errors (rmse, log_loss...)."""
    return metric not in LOWER_IS_BETTER


@dataclass
class Scored:
    """Predictions of one model on one data set, ready to score (or resample)."""

    task: str
    y: np.ndarray  # classification: class index into `classes`; regression: float
    pred: np.ndarray  # classification: predicted class index; regression: float
    scores: np.ndarray | None = None  # (n, k): probabilities, or decision scores
    is_proba: bool = False
    classes: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> Scored:
        """The same predictions restricted to (or resampled at) the rows ``idx``."""
        scores = None if self.scores is None else self.scores[idx]
        return Scored(self.task, self.y[idx], self.pred[idx], scores, self.is_proba, self.classes)


def compute(s: Scored, *, auc: bool = True) -> tuple[dict[str, float | None], dict[str, str]]:
    """All metrics of the task: values (None when undefined) and the reasons they are undefined.

    ``auc=False`` leaves roc_auc None (the bootstrap computes it for all resamples at once).
    """
    if len(s) == 0:
        names = metric_names(s.task)
        return dict.fromkeys(names), dict.fromkeys(names, "no rows")
    return _classification(s, auc) if s.task == "classification" else _regression(s)


def _classification(s: Scored, auc: bool = True) -> tuple[dict[str, float | None], dict[str, str]]:
    import numpy as np

    k = len(s.classes)
    values: dict[str, float | None] = {}
    why: dict[str, str] = {}
    cm = np.bincount(s.y * k + s.pred, minlength=k * k).reshape(k, k)
    tp, support, predicted = np.diag(cm).astype(float), cm.sum(axis=1), cm.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, tp / support, 0.0)
        precision = np.where(predicted > 0, tp / predicted, 0.0)  # zero_division=0, as scikit-learn
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    values["accuracy"] = float(tp.sum() / cm.sum())
    values["balanced_accuracy"] = float(recall[support > 0].mean())
    if k == 2:  # binary: the positive class is the second of the sorted labels
        values["precision"], values["recall"], values["f1"] = (float(precision[1]), float(recall[1]), float(f1[1]))
    else:  # macro over the classes present in the labels or the predictions
        seen = (support > 0) | (predicted > 0)
        values["precision"], values["recall"], values["f1"] = (
            float(precision[seen].mean()),
            float(recall[seen].mean()),
            float(f1[seen].mean()),
        )
    values["roc_auc"], reason = _roc_auc(s, support) if auc else (None, None)
    if reason:
        why["roc_auc"] = reason
    if s.scores is None or not s.is_proba:
        for name in ("log_loss", "brier"):
            values[name], why[name] = None, "the model gives no probabilities"
    else:
        proba = s.scores
        picked = np.clip(proba[np.arange(len(s)), s.y], PROBA_EPS, 1.0)
        values["log_loss"] = float(-np.log(picked).mean())
        onehot = np.eye(k)[s.y]
        # mean over rows and classes: for two classes this is exactly the binary Brier score
        values["brier"] = float(((onehot - proba) ** 2).mean())
    return values, why


def _roc_auc(s: Scored, support: np.ndarray) -> tuple[float | None, str | None]:
    import numpy as np

    if s.scores is None:
        return None, "the model gives no scores"
    names = [str(c) for c in s.classes]
    if len(s.classes) == 2:
        if (support == 0).any():
            only = names[int(np.argmax(support))]
            return None, f"only one class ({only!r}) in the data: ROC AUC needs both"
        return binary_auc(s.y == 1, _binary_scores(s)), None
    missing = [names[i] for i in np.flatnonzero(support == 0)]
    if missing:
        return None, f"class(es) {missing} absent from the data: one-vs-rest ROC AUC needs every class"
    return float(np.mean([binary_auc(s.y == c, s.scores[:, c]) for c in range(len(s.classes))])), None


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half): equal to the trapezoidal area.

    The average ranks are scipy's ``rankdata`` ones, computed here in numpy: the bootstraps call this
    thousands of times on a few thousand rows, where scipy's per-call overhead took half the time.
    """
    import numpy as np

    n = len(score)
    order = np.argsort(score, kind="mergesort")
    ordered = score[order]
    first = np.empty(n, dtype=bool)  # the first row of each group of tied scores
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], n)
    ranks = np.empty(n)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # 1-based average rank of each group
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def resampled_auc(positive: np.ndarray, score: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """`binary_auc` on each resample (a row of ``draws``, indices into the rows); NaN when one class is absent.

    The scores are sorted once: a resample's Mann-Whitney statistic is then, over the groups of tied
    scores in order, (positives drawn in the group) x (negatives drawn below it + half those in it),
    one bincount and cumsum per resample instead of a sort. Integer-valued sums: the same value as
    `binary_auc` on the resampled rows.
    """
    import numpy as np

    n = len(score)
    order = np.argsort(score, kind="mergesort")
    ordered = score[order]
    first = np.empty(n, dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    groups = int(first.sum())
    group = np.empty(n, dtype=np.int64)
    group[order] = np.cumsum(first) - 1
    key = np.where(positive, group, groups + group)  # positives in [0, G), negatives in [G, 2G)
    out = np.empty(len(draws))
    step = max(1, 4_000_000 // (2 * groups))  # resamples per block: ~32 MB of counts
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, len(draws), step):
            block = draws[start : start + step]
            offsets = np.arange(len(block))[:, None] * (2 * groups)
            counts = np.bincount((key[block] + offsets).ravel(), minlength=len(block) * 2 * groups)
            counts = counts.reshape(len(block), 2, groups).astype(float)
            pos, neg = counts[:, 0], counts[:, 1]
            below = np.cumsum(neg, axis=1) - neg
            denominator = pos.sum(axis=1) * neg.sum(axis=1)
            out[start : start + len(block)] = np.where(
                denominator > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / denominator, np.nan
            )
    return out


def _binary_scores(s: Scored) -> np.ndarray | None:
    """The positive class's score column of a binary classification, else None."""
    if s.task != "classification" or len(s.classes) != 2 or s.scores is None:
        return None
    return s.scores[:, 1] if s.scores.ndim == 2 else s.scores


def _draws(rng: Any, resamples: int, n: int, m: int) -> Any:
    """Blocks of resamples (rows of ``m`` indices into ``n`` rows): the stream of one `integers` call each."""
    step = max(1, 2_000_000 // max(m, 1))
    for start in range(0, resamples, step):
        yield rng.integers(0, n, (min(step, resamples - start), m))


def _regression(s: Scored) -> tuple[dict[str, float | None], dict[str, str]]:
    import numpy as np

    y, err = s.y, s.pred - s.y
    values: dict[str, float | None] = {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
    }
    why: dict[str, str] = {}
    total = float(np.sum((y - y.mean()) ** 2))
    if len(y) < 2 or total == 0.0:
        values["r2"], why["r2"] = None, "the actual values do not vary: R² is undefined"
    else:
        values["r2"] = float(1 - np.sum(err**2) / total)
    if np.any(y == 0):
        values["mape"], why["mape"] = None, "some actual values are 0: percentage error is undefined"
    else:
        values["mape"] = float(np.mean(np.abs(err) / np.abs(y)))
    return values, why


def bootstrap(
    s: Scored, resamples: int, seed: int, confidence: float = 0.95, max_rows: int | None = None
) -> dict[str, dict[str, Any]]:
    """Percentile confidence intervals per metric from ``resamples`` seeded row resamples.

    A metric undefined in some resamples (a class missing by chance) is summarised
    over the resamples where it is defined; ``defined`` says how many those were.

    Above ``max_rows`` rows each resample draws ``m = max_rows`` rows (an m-out-of-n
    bootstrap): the deviations of the resampled metric from the full-data value are
    scaled by sqrt(m / n), so the interval has the width of n rows at the cost of m.
    """
    import numpy as np

    names = metric_names(s.task)
    if resamples == 0 or len(s) == 0:
        return {}
    n = len(s)
    m = n if max_rows is None or n <= max_rows else max_rows
    full = compute(s)[0] if m < n else {}
    scale = (m / n) ** 0.5
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in names}
    column = _binary_scores(s)
    together = column is not None and n <= 2 * m  # one sort for every resample's roc_auc (else a sort each)
    for block in _draws(rng, resamples, n, m):
        aucs = resampled_auc(s.y == 1, column, block) if together else None
        for i, idx in enumerate(block):
            values, _ = compute(s.take(idx), auc=not together)
            if together and not np.isnan(aucs[i]):
                values["roc_auc"] = float(aucs[i])
            for name in names:
                if values[name] is None:
                    continue
                if m == n:
                    draws[name].append(values[name])
                elif full.get(name) is not None:
                    draws[name].append(full[name] + scale * (values[name] - full[name]))
    alpha = (1 - confidence) / 2
    out = {}
    for name in names:
        got = np.asarray(draws[name])
        if len(got) == 0:
            out[name] = {"low": None, "high": None, "defined": 0}
        else:
            low, high = np.quantile(got, [alpha, 1 - alpha])
            out[name] = {"low": float(low), "high": float(high), "defined": len(got)}
    return out


def metric_value(s: Scored, metric: str) -> float | None:
    """One metric of ``s`` (as ``compute`` gives it), without computing the others when it can."""
    import numpy as np

    column = _binary_scores(s) if metric == "roc_auc" else None
    if column is not None:
        positive = s.y == 1
        if not 0 < int(positive.sum()) < len(s):
            return None
        return binary_auc(positive, column)
    if metric == "accuracy" and s.task == "classification" and len(s):
        return float(np.mean(s.y == s.pred))
    return compute(s)[0][metric]


def paired_bootstrap(
    candidate: Scored, champion: Scored, metric: str, resamples: int, seed: int, confidence: float = 0.95
) -> dict[str, Any]:
    """The interval of ``metric(candidate) - metric(champion)`` over the same row resamples.

    Both models are scored on the same rows, so each resample draws one set of
    row indices and takes the difference on it: the interval reflects how the two
    models differ on these rows, not the noise of each score on its own.
    """
    import numpy as np

    if len(candidate) != len(champion) or not np.array_equal(candidate.y, champion.y):
        raise ValueError("a paired bootstrap needs both models scored on the same rows")
    cand, champ = metric_value(candidate, metric), metric_value(champion, metric)
    out: dict[str, Any] = {
        "metric": metric,
        "candidate": cand,
        "champion": champ,
        "difference": None if cand is None or champ is None else cand - champ,
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
        "low": None,
        "high": None,
        "defined": 0,
    }
    if resamples == 0 or len(candidate) == 0:
        return out
    rng = np.random.default_rng(seed)
    draws = []
    n = len(candidate)
    columns = (_binary_scores(candidate), _binary_scores(champion))
    together = metric == "roc_auc" and columns[0] is not None and columns[1] is not None  # one sort per model
    for block in _draws(rng, resamples, n, n):
        if together:
            a, b = (resampled_auc(candidate.y == 1, c, block) for c in columns)  # NaN: one class drawn
            draws += [float(d) for d in (a - b)[~(np.isnan(a) | np.isnan(b))]]
            continue
        for idx in block:
            a, b = metric_value(candidate.take(idx), metric), metric_value(champion.take(idx), metric)
            if a is not None and b is not None:
                draws.append(a - b)
    if draws:
        alpha = (1 - confidence) / 2
        low, high = np.quantile(np.asarray(draws), [alpha, 1 - alpha])
        out.update(low=float(low), high=float(high), defined=len(draws))
    return out


def score(model: Any, X: Any, y: Any, task: str, classes: list[Any] | None) -> Scored:
    """Run ``model`` on the model frame ``X`` and line its outputs up with ``classes``.

    Labels are matched by their text, so ints from JSON and numpy ints from Parquet agree.
    """
    import numpy as np

    from mlctl.core.errors import DataError

    if task != "classification":
        return Scored(task, np.asarray(y, dtype=float), np.asarray(model.predict(X), dtype=float))
    classes = list(classes if classes is not None else model.classes_)
    index = {str(c): i for i, c in enumerate(classes)}
    labels = [str(v) for v in np.asarray(y, dtype=object)]
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise DataError(
            f"target label(s) {unknown[:5]} never seen in training (classes are {classes})",
            where="target",
            hint="re-run `mlctl prepare` and `mlctl train` so every split shares the label set",
        )
    y_idx = np.array([index[v] for v in labels], dtype=int)
    pred = np.array([index[str(v)] for v in model.predict(X)], dtype=int)
    order = [list(map(str, model.classes_)).index(str(c)) for c in classes]
    scores, is_proba = None, False
    if hasattr(model, "predict_proba"):
        scores, is_proba = np.asarray(model.predict_proba(X), dtype=float)[:, order], True
    elif hasattr(model, "decision_function"):
        d = np.asarray(model.decision_function(X), dtype=float)
        scores = np.column_stack([-d, d]) if d.ndim == 1 else d[:, order]
    return Scored(task, y_idx, pred, scores, is_proba, classes)
