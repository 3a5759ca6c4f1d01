"""The pure core of training: feature selection, target checks, search, refit, baseline.

Takes DataFrames and params, returns fitted estimators and the search summary;
`mlctl.stages.train` wraps it with file reading and writing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, DataError
from mlctl.core.progress import NoProgress, Progress
from mlctl.model.features import Feature

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.params.train import TrainParams
    from mlctl.stages.train.search import CandidateResult


@dataclass
class Trained:
    """The pure result of training: fitted objects and the search summary."""

    model: Any
    baseline: Any
    features: list[Feature]
    classes: list | None
    scoring: str
    candidates: list[CandidateResult]
    best: CandidateResult
    search_seconds: float
    fit_rows: int


def select_features(df: pd.DataFrame, target: str, params: TrainParams, personal: list[str]) -> list[Feature]:
    """Feature columns and kinds: everything but the target, forbidden and personal columns."""
    from mlctl.model.features import infer_features

    if target not in df.columns:
        raise DataError(f"target column {target!r} is not in the data", hint=f"columns are {list(df.columns)}")
    banned = {c: "train.forbidden" for c in params.forbidden} | {c: "personal data (schema)" for c in personal}
    asked = [c for c in params.features if c in banned or c == target]
    if asked:
        why = ", ".join(f"{c!r} ({'the target' if c == target else banned[c]})" for c in asked)
        raise ConfigError(
            f"train.features lists column(s) that may never be features: {why}",
            where="params.yaml: train.features",
            hint="remove them from train.features",
        )
    prep = params.preprocess
    unknown = [c for c in [*prep.numeric_columns, *prep.categorical_columns] if c not in df.columns]
    if unknown:
        raise ConfigError(
            f"train.preprocess forces the kind of column(s) {unknown}, which are not in the data",
            where="params.yaml: train.preprocess",
            hint=f"columns are {list(df.columns)}",
        )
    return infer_features(
        df,
        target,
        include=params.features or None,
        exclude=sorted(banned),
        numeric=prep.numeric_columns,
        categorical=prep.categorical_columns,
    )


def target_values(df: pd.DataFrame, target: str, task: str, *, where: str, cv: int):
    """The target as an array, checked: no missing values, >= 2 classes, numeric for regression."""
    import numpy as np
    import pandas as pd

    y = df[target]
    if y.isna().any():
        raise DataError(
            f"target {target!r} has {int(y.isna().sum())} missing value(s)",
            where=where,
            hint="drop rows without a label in prepare (or check the collected data)",
        )
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            raise DataError(
                f"regression target {target!r} is not numeric (dtype {y.dtype})",
                where=where,
                hint="set task: classification, or fix the target column",
            )
        return y.to_numpy(dtype="float64")
    counts = y.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"target {target!r} has a single class ({counts.index[0]!r}): there is nothing to learn",
            where=where,
            hint="check the data source and the prepare split",
        )
    if counts.min() < cv:
        raise DataError(
            f"class {counts.idxmin()!r} has {int(counts.min())} row(s), fewer than the {cv} CV folds",
            where=where,
            hint="lower train.search.cv, merge rare classes, or collect more data",
        )
    return y.to_numpy(dtype=object) if y.dtype == object or pd.api.types.is_string_dtype(y) else np.asarray(y)


def fit(
    train: pd.DataFrame,
    validation: pd.DataFrame | None,
    *,
    features: list[Feature],
    target: str,
    task: str,
    params: TrainParams,
    seed: int,
    progress: Progress | None = None,
    where: str = "train split",
) -> Trained:
    """Search every candidate, refit the best on train (+ validation) and fit the baseline."""
    import pandas as pd
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from mlctl.model.estimators import build_pipeline, category_levels, make_baseline, preprocessor
    from mlctl.model.features import to_model_frame
    from mlctl.stages.train import search as s
    from mlctl.stages.train.budget import Budget, workers

    progress = progress or NoProgress()
    sp = params.search
    y = target_values(train, target, task, where=where, cv=sp.cv)
    n_classes = len(set(y.tolist())) if task == "classification" else None
    scoring = s.check_scoring(sp.scoring, task, n_classes)
    # Every space is validated before the first fit: a typo fails in a second, not after an hour.
    spaces = {name: s.check_space(name, task, params.spaces.get(name), seed) for name in params.candidates}
    X = to_model_frame(train, features)
    cv = s.make_cv(task, sp.cv, seed)
    levels = category_levels(X, features, params.preprocess.max_categories)
    pipelines = {
        name: build_pipeline(name, task, features, params.preprocess, seed, levels=levels) for name in params.candidates
    }

    results: list[CandidateResult] = []
    started = time.perf_counter()
    deadline = None if sp.budget_s is None else started + sp.budget_s
    budget = Budget(deadline, progress, workers=workers(sp))
    with s.backend(sp):
        for i, name in enumerate(params.candidates, 1):
            planned = s.planned_fits(spaces[name], sp, len(X))
            kind = "halving, " if s.method_of(sp).startswith("halving") else ""
            label = f"[{i}/{len(spaces)}] {name} ({kind}{planned} fits" + (", budget" if deadline else "") + ")"
            progress.start(label, total=planned)
            search_obj = s.make_search(pipelines[name], spaces[name], sp, scoring, cv, seed, budget)
            budget.start_candidate()
            skipped = budget.skipped
            result = s.run_search(name, search_obj, X, y)
            result.skipped = budget.skipped - skipped
            progress.done()
            results.append(result)
    search_seconds = time.perf_counter() - started
    # Ties go to the first listed candidate; a NaN score (a scorer that failed) never wins.
    best = max(results, key=lambda r: (r.cv_mean if math.isfinite(r.cv_mean) else -math.inf, -results.index(r)))
    if not math.isfinite(best.cv_mean):
        raise DataError(
            f"every candidate's cross-validated {scoring} is undefined (NaN)",
            where=where,
            hint="the folds may be too small for the scorer: lower train.search.cv or add data",
        )

    # The refit holds one model frame: the search's plus the validation rows (encoded row by row, so
    # the same as encoding the two splits joined), not the joined raw splits and a second encoding.
    del y
    if params.refit_on_validation and validation is not None and len(validation):
        X_fit = pd.concat([X, to_model_frame(validation, features)], ignore_index=True)
        labels = pd.concat([train[[target]], validation[[target]]], ignore_index=True)
    else:
        X_fit, labels = X, train[[target]]
    del X
    y_fit = target_values(labels, target, task, where=where, cv=1)
    progress.start(f"refit {best.name} on {len(X_fit)} rows", total=2)
    model = clone(pipelines[best.name]).set_params(**{s.PREFIX + k: v for k, v in best.best_params.items()})
    model.fit(X_fit, y_fit)
    progress.advance()
    baseline = Pipeline(
        [
            ("preprocess", preprocessor(features, params.preprocess, scale=False, levels=levels)),
            ("model", make_baseline(task, seed)),
        ]
    )
    baseline.fit(X_fit, y_fit)
    progress.advance()
    progress.done()
    classes = [c.item() if hasattr(c, "item") else c for c in model.classes_] if task == "classification" else None
    return Trained(model, baseline, features, classes, scoring, results, best, search_seconds, len(X_fit))
