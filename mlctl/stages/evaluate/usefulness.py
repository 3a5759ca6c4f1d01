"""Feature value (ML Test Score D2): which inputs the model could do without.

Each feature's column of the test rows is shuffled once and the model scored
again; a paired bootstrap over the same rows gives the interval of the primary
metric's drop (the permutation importance). A feature whose interval includes
0, or lies below it, adds nothing measurable on these rows: a candidate to drop.
The records go to metrics/features.json, the model card, the PR report and the
gate's ``max_useless_features`` rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.model.metrics import higher_is_better

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.model.metrics import Scored


def primary(task: str, values: dict[str, float | None]) -> str:
    """The metric importance is measured in: roc_auc (accuracy when undefined) / r2 (mae when undefined)."""
    if task == "regression":
        return "r2" if values.get("r2") is not None else "mae"
    return "roc_auc" if values.get("roc_auc") is not None else "accuracy"


def feature_value(
    model: Any, X: pd.DataFrame, y: Any, base: Scored, metric: str, resamples: int, seed: int, confidence: float
) -> dict[str, Any]:
    """Permutation importance of every column of ``X`` with a paired-bootstrap interval, and the useless ones."""
    import numpy as np

    from mlctl.model.metrics import paired_bootstrap, score

    rng = np.random.default_rng(seed)
    sign = 1.0 if higher_is_better(metric) else -1.0  # the drop of a score; the rise of an error
    records = []
    for column in X.columns:
        shuffled = X.copy()
        shuffled[column] = rng.permutation(shuffled[column].to_numpy())
        permuted = score(model, shuffled, y, base.task, base.classes)
        pair = paired_bootstrap(base, permuted, metric, resamples, seed, confidence)
        bounds = [None if b is None else sign * b for b in (pair["low"], pair["high"])]
        low, high = (None, None) if None in bounds else sorted(bounds)
        diff = pair["difference"]
        records.append(
            {
                "feature": str(column),
                "importance": None if diff is None else sign * diff,
                "low": low,
                "high": high,
                "useless": None if low is None else bool(low <= 0),
            }
        )
    records.sort(key=lambda r: -np.inf if r["importance"] is None else r["importance"], reverse=True)
    return {
        "metric": metric,
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
        "features": records,
        "useless": [r["feature"] for r in records if r["useless"]],
    }


def card(data: dict[str, Any]) -> list[str]:
    """The model card's feature-value section."""
    if not data["features"]:
        return ["No features."]
    lines = [
        f"Drop of `{data['metric']}` when each feature is shuffled on the test rows, with a "
        f"{data['confidence']:.0%} paired-bootstrap interval ({data['resamples']} resamples):",
        "",
        "| feature | importance | interval | candidate to drop |",
        "|---|---|---|---|",
    ]
    for r in data["features"]:
        interval = "n/a" if r["low"] is None else f"[{r['low']:.4f}, {r['high']:.4f}]"
        value = "n/a" if r["importance"] is None else f"{r['importance']:.4f}"
        lines.append(f"| {r['feature']} | {value} | {interval} | {'yes' if r['useless'] else ''} |")
    useless = data["useless"]
    lines.append("")
    if useless:
        lines.append(
            f"**Candidates to drop ({len(useless)})**: {', '.join(f'`{n}`' for n in useless)}: their interval "
            "includes 0 (the model does no measurably worse without them on these rows)."
        )
    else:
        lines.append("Every feature's interval is above 0: none is a candidate to drop.")
    return lines
