"""The search `mlctl init` writes into params.yaml, chosen by the data's size.

Small data (under ``LARGE_DATA`` rows): a linear model and a random forest whose
depth and tree count are bounded, searched by random draws. Large data: a linear
model and histogram gradient boosting (bounded leaves, early stopping), searched
by successive halving over the number of rows, so most settings are judged on a
third of the data and only the best go on to all of it. Both stop starting new
draws after ``budget_s`` seconds. Every space keeps the exported model well under
``MAX_MODEL_MB``, the size the gate allows by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LARGE_DATA = 50_000  # rows: from here on, histogram boosting and successive halving
MAX_MODEL_MB = 50  # the gate's default ceiling on models/model.skops and the exported ONNX model
BUDGET_S = {"small": 300, "large": 600}  # the search's time budget: no draw starts after it

QUICK_SPACES = {  # --quick: one small model each, to try the whole pipeline in seconds
    "logistic_regression": {"C": [1.0]},
    "ridge": {"alpha": [1.0]},
    "random_forest": {"n_estimators": [20], "max_depth": [6]},
    "hist_gradient_boosting": {"max_iter": [50], "max_leaf_nodes": [15]},
}
# Depth <= 10 and <= 100 trees: at most 100 x 2,047 nodes, about 15 MB as ONNX whatever the rows.
SMALL_SPACES = {
    "logistic_regression": {"C": [0.1, 1.0, 10.0]},
    "ridge": {"alpha": [0.1, 1.0, 10.0]},
    "random_forest": {"n_estimators": [50, 100], "max_depth": [4, 8, 10], "min_samples_leaf": [1, 5]},
}
# <= 200 rounds x <= 63 leaves (fewer with early stopping, on by default above 10,000 rows): a few MB.
# Missing values reach the model (no imputer: mlctl.model.estimators), which learns where they go.
# The linear model is cross-validated at one setting: with this many rows its regularisation hardly matters.
LARGE_SPACES = {
    "logistic_regression": {"C": [1.0]},
    "ridge": {"alpha": [1.0]},
    "hist_gradient_boosting": {
        "learning_rate": [0.1, 0.2],
        "max_leaf_nodes": [15, 31, 63],
        "min_samples_leaf": [20, 100],
        "l2_regularization": [0.0, 1.0],
        "max_iter": [200],
    },
}


@dataclass(frozen=True)
class SearchPlan:
    """Candidates, their spaces and the search, with the reasons written beside them in params.yaml."""

    candidates: list[str]
    spaces: dict[str, dict[str, list[Any]]]
    method: str
    n_iter: int
    cv: int
    budget_s: float
    why: dict[str, str] = field(default_factory=dict)


def plan_search(task: str, rows: int, *, quick: bool = False, large_rows: int = LARGE_DATA) -> SearchPlan:
    """The search for ``rows`` rows of a ``task`` problem (``large_rows``: where large data begins)."""
    linear = "logistic_regression" if task == "classification" else "ridge"
    large = rows >= large_rows
    trees = "hist_gradient_boosting" if large else "random_forest"
    candidates = [linear, trees]
    if quick:
        return SearchPlan(
            candidates,
            {name: QUICK_SPACES[name] for name in candidates},
            "random",
            1,
            2,
            BUDGET_S["small"],
            {"spaces": "--quick: a smoke test, not a search", "candidates": "a linear model and a tree ensemble"},
        )
    if large:
        return SearchPlan(
            candidates,
            {name: LARGE_SPACES[name] for name in candidates},
            "halving_random",
            6,
            2,  # two folds of 25,000+ rows each: a steady score at two thirds the cost of three
            BUDGET_S["large"],
            {
                "candidates": f"{rows:,} rows (>= {large_rows:,}): a linear model and histogram gradient boosting",
                "spaces": "bounded leaves and rounds (early stopping): models of a few MB",
                "method": "successive halving: settings judged on a third of the rows, the best on all",
                "budget_s": "seconds: no draw starts after them (models/train.json counts the draws)",
            },
        )
    return SearchPlan(
        candidates,
        {name: SMALL_SPACES[name] for name in candidates},
        "random",
        4,
        3,
        BUDGET_S["small"],
        {
            "candidates": f"{rows:,} rows (< {large_rows:,}): a linear model and a random forest",
            "spaces": "trees of depth <= 10, at most 100 of them: a model of MBs, not hundreds",
            "method": "random draws from the spaces",
            "budget_s": "seconds: no draw starts after them (models/train.json counts the draws)",
        },
    )
