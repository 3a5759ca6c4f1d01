"""Metrics per slice of the test data and the group-fairness gap between groups.

Slice columns are read from the split file itself, not the model frame: the
column that matters for fairness (a protected attribute) is usually one the
model must never see.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError
from mlctl.model.metrics import Scored, compute, higher_is_better, metric_names

if TYPE_CHECKING:
    import pandas as pd

MISSING_LEVEL = "(missing)"


def check_column(df: pd.DataFrame, column: str, key: str) -> None:
    """Raise a ConfigError naming the nearest columns when ``column`` is not in the data."""
    if column in df.columns:
        return
    near = difflib.get_close_matches(column, [str(c) for c in df.columns], n=3, cutoff=0.5)
    raise ConfigError(
        f"slice column {column!r} is not in the data",
        where=f"params.yaml: {key}",
        hint=(f"did you mean {', '.join(map(repr, near))}? " if near else "")
        + f"columns are {', '.join(map(str, df.columns))}",
    )


def levels(df: pd.DataFrame, column: str) -> list[tuple[str, Any]]:
    """(level name, row positions) for each value of ``column``, missing values as one level."""
    import numpy as np
    import pandas as pd

    values = df[column].astype("string").fillna(MISSING_LEVEL)
    codes, names = pd.factorize(values, sort=True)  # one pass; then each level's rows by a stable sort
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return [(str(name), order[bounds[i] : bounds[i + 1]]) for i, name in enumerate(names)]


def slice_metrics(df: pd.DataFrame, scored: Scored, columns: list[str], min_size: int) -> dict[str, Any]:
    """Metrics of the model on every level of each slice column; small levels are listed as skipped."""
    evaluated, skipped = [], []
    for column in columns:
        check_column(df, column, "evaluate.slices")
        for name, rows in levels(df, column):
            if len(rows) < min_size:
                skipped.append(
                    {"column": column, "value": name, "rows": len(rows), "reason": f"fewer than {min_size} rows"}
                )
                continue
            values, why = compute(scored.take(rows))
            evaluated.append({"column": column, "value": name, "rows": len(rows), "metrics": values, "undefined": why})
    return {"min_slice_size": min_size, "slices": evaluated, "skipped": skipped}


def default_fairness_metric(task: str) -> str:
    """Recall (true positive rate: equal opportunity) for classification, MAE for regression."""
    return "recall" if task == "classification" else "mae"


def fairness_gap(df: pd.DataFrame, scored: Scored, column: str, metric: str, min_size: int) -> dict[str, Any]:
    """The largest difference of ``metric`` between the groups of ``column`` with enough rows."""
    check_column(df, column, "evaluate.sensitive")
    if metric not in metric_names(scored.task):
        raise ConfigError(
            f"unknown fairness metric {metric!r} for {scored.task}",
            where="params.yaml: evaluate.fairness_metric",
            hint=f"use one of: {', '.join(metric_names(scored.task))}",
        )
    groups, rows, skipped = {}, {}, []
    for name, idx in levels(df, column):
        if len(idx) < min_size:
            skipped.append({"value": name, "rows": len(idx), "reason": f"fewer than {min_size} rows"})
            continue
        values, why = compute(scored.take(idx))
        if values[metric] is None:
            skipped.append({"value": name, "rows": len(idx), "reason": why.get(metric, "undefined")})
            continue
        groups[name], rows[name] = values[metric], len(idx)
    result: dict[str, Any] = {
        "column": column,
        "metric": metric,
        "higher_is_better": higher_is_better(metric),
        "groups": groups,
        "rows": rows,
        "skipped": skipped,
        "gap": None,
        "best_group": None,
        "worst_group": None,
        "reason": None,
    }
    if len(groups) < 2:
        result["reason"] = f"fewer than two groups of {column!r} with {min_size}+ rows and a defined {metric}"
        return result
    low, high = min(groups, key=groups.get), max(groups, key=groups.get)
    best, worst = (high, low) if higher_is_better(metric) else (low, high)
    result.update(gap=groups[high] - groups[low], best_group=best, worst_group=worst)
    return result
