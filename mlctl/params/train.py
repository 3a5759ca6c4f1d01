"""params.yaml `train:` — preprocessing, candidate estimators and the search."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class PreprocessParams(Section):
    """How the pipeline's preprocessing is built from the data's column types."""

    numeric_impute: Literal["mean", "median", "most_frequent", "constant"] = "median"
    scale: bool = True
    categorical_encoding: Literal["onehot", "ordinal"] = "onehot"
    max_categories: int | None = Field(default=30, ge=2)  # rarer levels are grouped as infrequent
    categorical_columns: list[str] = Field(default_factory=list)  # force these to categorical
    numeric_columns: list[str] = Field(default_factory=list)  # force these to numeric


class SearchParams(Section):
    """The cross-validated hyperparameter search."""

    # grid: every combination; random: n_iter draws; halving_*: successive halving
    # (scikit-learn's Halving{Grid,Random}SearchCV); "halving" means halving_random.
    method: Literal["grid", "random", "halving", "halving_grid", "halving_random"] = "random"
    n_iter: int = Field(default=6, ge=1)  # random / halving_random: draws per candidate (capped at the grid size)
    cv: int = Field(default=3, ge=2)
    scoring: str | None = None  # default: roc_auc / f1_macro / neg_root_mean_squared_error
    n_jobs: int = -1  # -1: every core
    # seconds for the whole search: no draw starts after it (each candidate's first draw always runs);
    # models/train.json says how many draws ran and how many the budget skipped. None: no limit
    budget_s: float | None = Field(default=None, ge=0)
    backend: Literal["loky", "dask"] = "loky"  # dask: scikit-learn's joblib Dask backend
    scheduler: str | None = None  # dask scheduler address; none: a local cluster
    dask_workers: int = Field(default=2, ge=1)  # local cluster size when no scheduler is given


class TrainParams(Section):
    """What is trained: candidates, their search spaces, and what must never be a feature."""

    input_dir: str = A.PROCESSED_DIR
    candidates: list[str] = Field(default_factory=lambda: ["logistic_regression"], min_length=1)
    spaces: dict[str, dict[str, list[Any]]] = Field(default_factory=dict)
    search: SearchParams = Field(default_factory=SearchParams)
    preprocess: PreprocessParams = Field(default_factory=PreprocessParams)
    features: list[str] = Field(default_factory=list)  # empty: every column but the target
    forbidden: list[str] = Field(default_factory=list)  # never fed to the model
    model_dir: str = A.MODEL_DIR
    # The search cross-validates on the train split only; the winner is then refit on
    # train + validation (more data, same hyperparameters). False: refit on train only.
    refit_on_validation: bool = True

    @model_validator(mode="after")
    def _spaces_name_candidates(self) -> TrainParams:
        dupes = sorted({c for c in self.candidates if self.candidates.count(c) > 1})
        if dupes:
            raise ValueError(f"candidates listed twice: {dupes}")
        unknown = sorted(set(self.spaces) - set(self.candidates))
        if unknown:
            raise ValueError(f"spaces given for {unknown}, which are not in candidates {self.candidates}")
        return self
