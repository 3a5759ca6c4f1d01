"""Cross-validated hyperparameter search over one registry candidate.

Search spaces are declared with the estimator's own parameter names
(``C``, ``max_depth``...); they are prefixed with ``model__`` here because the
search runs over the whole Pipeline, so preprocessing is re-fitted inside
every fold and never sees the fold's held-out rows.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, ExternalError
from mlctl.model.estimators import make_estimator, spec
from mlctl.stages.train.budget import Budget, budgeted

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.params.train import SearchParams

DEFAULT_SCORING = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "neg_root_mean_squared_error"}
PREFIX = "model__"
HALVING_FACTOR = 3  # scikit-learn's default: a third of the settings go on to each next round


def problem_kind(task: str, n_classes: int | None) -> str:
    """'binary', 'multiclass' or 'regression'."""
    if task == "regression":
        return "regression"
    return "binary" if (n_classes or 0) <= 2 else "multiclass"


def check_scoring(scoring: str | None, task: str, n_classes: int | None) -> str:
    """The scorer name to use: the default for the problem, or a valid scikit-learn scorer."""
    from sklearn.metrics import get_scorer_names

    kind = problem_kind(task, n_classes)
    if scoring is None:
        return DEFAULT_SCORING[kind]
    names = get_scorer_names()
    if scoring not in names:
        near = difflib.get_close_matches(scoring, names, n=3)
        raise ConfigError(
            f"unknown scoring {scoring!r}",
            where="params.yaml: train.search.scoring",
            hint=(f"did you mean {', '.join(map(repr, near))}? " if near else "")
            + f"default for {kind}: {DEFAULT_SCORING[kind]}; all names: sklearn.metrics.get_scorer_names()",
        )
    # These scorers need two classes; on multiclass data every fold would fail.
    if kind == "multiclass" and scoring in {"roc_auc", "average_precision", "f1", "precision", "recall"}:
        raise ConfigError(
            f"scoring {scoring!r} only works for binary targets; this one has {n_classes} classes",
            where="params.yaml: train.search.scoring",
            hint=f"use {scoring}_ovr / {scoring}_macro or leave it unset for {DEFAULT_SCORING['multiclass']}",
        )
    return scoring


def check_space(name: str, task: str, space: dict[str, list] | None, seed: int) -> dict[str, list]:
    """The search space for ``name`` (registry default if None), every key and value checked."""
    space = dict(spec(name, task).space) if space is None else dict(space)
    estimator = make_estimator(name, task, seed)
    valid = sorted(estimator.get_params(deep=False))
    for param, values in space.items():
        key = f"train.spaces.{name}.{param}"
        if param not in valid:
            near = difflib.get_close_matches(param, valid, n=1)
            raise ConfigError(
                f"{type(estimator).__name__} has no parameter {param!r}",
                where=f"params.yaml: {key}",
                hint=(f"did you mean {near[0]!r}? " if near else "") + f"valid parameters: {', '.join(valid)}",
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(
                "a search space entry needs a non-empty list of values",
                where=f"params.yaml: {key}",
                hint=f"e.g. {param}: [{estimator.get_params()[param]!r}]",
            )
        for value in values:
            _check_value(estimator, param, value, key)
    return space


def _check_value(estimator: Any, param: str, value: Any, key: str) -> None:
    # scikit-learn validates parameters only when fitting; check them now, not after an hour.
    from sklearn.base import clone

    check = getattr(estimator, "_validate_params", None)
    if check is None:
        return
    try:
        clone(estimator).set_params(**{param: value})._validate_params()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid value {value!r}: {exc}", where=f"params.yaml: {key}") from None


def grid_size(space: dict[str, list]) -> int:
    """How many distinct settings the space holds."""
    return math.prod(len(v) for v in space.values()) if space else 1


def make_cv(task: str, folds: int, seed: int) -> Any:
    """Shuffled, seeded K-fold: stratified for classification."""
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if task == "classification" else KFold
    return cls(n_splits=folds, shuffle=True, random_state=seed)


def method_of(search: SearchParams) -> str:
    """The canonical method name ('halving' is halving_random)."""
    return "halving_random" if search.method == "halving" else search.method


def make_search(
    pipeline: Any,
    space: dict[str, list],
    search: SearchParams,
    scoring: str,
    cv: Any,
    seed: int,
    budget: Budget | None = None,
) -> Any:
    """The scikit-learn search object for one candidate (refit=False: the stage refits the winner).

    It evaluates its draws through ``budget`` (a few at a time, none started after the deadline).
    """
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - enables the Halving classes
    from sklearn.model_selection import (
        GridSearchCV,
        HalvingGridSearchCV,
        HalvingRandomSearchCV,
        RandomizedSearchCV,
    )

    grid = {PREFIX + k: v for k, v in space.items()}
    method = method_of(search)
    n_draws = min(search.n_iter, grid_size(space))
    common = {"scoring": scoring, "cv": cv, "n_jobs": search.n_jobs, "refit": False, "error_score": "raise"}
    if grid_size(space) == 1 or method == "grid":  # one setting: plain cross-validation of it
        obj = budgeted(GridSearchCV)(pipeline, grid, **common)
    elif method == "random":
        obj = budgeted(RandomizedSearchCV)(pipeline, grid, n_iter=n_draws, random_state=seed, **common)
    elif method == "halving_grid":
        obj = budgeted(HalvingGridSearchCV)(pipeline, grid, random_state=seed, **common)
    else:
        # "exhaust": the first round gets as many rows as lets the last one use them all (scikit-learn's
        # default for random draws, "smallest", starts from a handful of rows: often a single class)
        obj = budgeted(HalvingRandomSearchCV)(
            pipeline, grid, n_candidates=n_draws, min_resources="exhaust", random_state=seed, **common
        )
    obj.budget = budget or Budget(None)
    return obj


def planned_fits(space: dict[str, list], search: SearchParams, n_rows: int | None = None) -> int | None:
    """Fits the search will run if the budget lets it (halving: its rounds' fits, given ``n_rows``)."""
    size = grid_size(space)
    method = method_of(search)
    if size == 1 or method == "grid":
        return size * search.cv
    if method == "random":
        return min(search.n_iter, size) * search.cv
    if n_rows is None:
        return None
    # successive halving, scikit-learn's defaults: factor 3, min_resources "exhaust" (rounds until few remain)
    # rounds: 1 + floor(log_factor(settings)), each keeping ceil(1 / factor) of the previous one's settings
    settings = size if method == "halving_grid" else min(search.n_iter, size)
    fits, power, total = 0, 1, settings
    while power <= total:
        fits += settings * search.cv
        settings, power = math.ceil(settings / HALVING_FACTOR), power * HALVING_FACTOR
    return fits


@dataclass
class CandidateResult:
    """The outcome of one candidate's search."""

    name: str
    best_params: dict[str, Any]
    cv_mean: float
    cv_std: float
    n_fits: int
    seconds: float
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)  # its cv_results_
    draws: int = 0  # settings cross-validated
    skipped: int = 0  # settings never started: the time budget (train.search.budget_s) was spent

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "best_params": self.best_params,
            "cv_mean": self.cv_mean,
            "cv_std": self.cv_std,
            "n_fits": self.n_fits,
            "draws": self.draws,
            "skipped_for_budget": self.skipped,
            "seconds": round(self.seconds, 3),
        }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def run_search(name: str, search_obj: Any, X: pd.DataFrame, y: Any) -> CandidateResult:
    """Fit one search object and summarise it; a failing fit is reported with the candidate's name."""
    started = time.perf_counter()
    try:
        search_obj.fit(X, y)
    except (ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"fitting {name} failed: {first}",
            where=f"params.yaml: train.spaces.{name}",
            hint="check the search space values and the data types of the features",
        ) from exc
    seconds = time.perf_counter() - started
    res = search_obj.cv_results_
    best = search_obj.best_index_
    rows = []
    for i, params in enumerate(res["params"]):
        row = {
            "candidate": name,
            "params": json.dumps({k.removeprefix(PREFIX): _plain(v) for k, v in params.items()}, sort_keys=True),
            "mean_test_score": float(res["mean_test_score"][i]),
            "std_test_score": float(res["std_test_score"][i]),
            "rank_test_score": int(res["rank_test_score"][i]),
            "mean_fit_time": float(res["mean_fit_time"][i]),
            "std_fit_time": float(res["std_fit_time"][i]),
            "mean_score_time": float(res["mean_score_time"][i]),
        }
        for extra in ("iter", "n_resources"):  # halving: which round and how many rows
            if extra in res:
                row[extra] = int(res[extra][i])
        rows.append(row)
    return CandidateResult(
        name=name,
        best_params={k.removeprefix(PREFIX): _plain(v) for k, v in search_obj.best_params_.items()},
        cv_mean=float(res["mean_test_score"][best]),
        cv_std=float(res["std_test_score"][best]),
        n_fits=len(res["params"]) * search_obj.n_splits_,
        seconds=seconds,
        rows=rows,
        draws=len(res["params"]),
    )


@contextlib.contextmanager
def backend(search: SearchParams) -> Iterator[None]:
    """Run the searches under joblib's loky (default) or Dask backend.

    Dask without a scheduler address gets a local in-process cluster that is
    created here and closed on exit (no dashboard, no open ports).
    """
    if search.backend != "dask":
        yield
        return
    try:
        from dask.distributed import Client, LocalCluster
        from joblib import parallel_backend
    except ImportError:
        raise ConfigError(
            "train.search.backend is dask but dask.distributed is not installed",
            where="params.yaml: train.search.backend",
            hint="pip install 'mlctl[dask]' or use backend: loky",
        ) from None
    with contextlib.ExitStack() as stack:
        if search.scheduler:
            try:
                client = stack.enter_context(Client(search.scheduler, timeout="10s"))
            except (OSError, TimeoutError) as exc:
                raise ExternalError(
                    f"cannot reach the dask scheduler: {exc}",
                    where="params.yaml: train.search.scheduler",
                    hint="start it with `dask scheduler` or remove train.search.scheduler for a local cluster",
                ) from None
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=search.dask_workers,
                    threads_per_worker=1,
                    processes=False,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
        stack.enter_context(parallel_backend("dask", client=client))
        yield
