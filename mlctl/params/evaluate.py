"""params.yaml `evaluate:` — slices, the sensitive column and plots."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class StalenessParams(Section):
    """The staleness curve (ML Test Score M4): the metric of a model refitted k months back, on the newest month."""

    time_column: str | None = None  # a prepare.date_columns column (its _year/_month features); None: off
    periods: int = Field(default=4, ge=1, le=12)  # ages measured: 1..periods months
    tolerance: float = Field(default=0.01, ge=0)  # the drop (from the 1-month-old model) that makes a model too old
    metric: str | None = None  # default: roc_auc (f1 when undefined) / r2
    max_rows: int = Field(default=5000, ge=50)  # rows per fit and scored rows, at most
    min_rows: int = Field(default=30, ge=1)  # fewer labelled rows in the newest month or a window: not measured


class EvaluateParams(Section):
    """How the candidate and the baseline are scored on the test split."""

    split: str = "test"  # a split written by `mlctl prepare`: <input_dir>/<split>.parquet
    input_dir: str = A.PROCESSED_DIR
    model_dir: str = A.MODEL_DIR  # where `mlctl train` wrote model.skops, baseline.skops, train.json
    slices: list[str] = Field(default_factory=list)  # categorical columns to score per level
    sensitive: str | None = None  # column for the group-fairness gap
    fairness_metric: str | None = None  # default: recall (classification) / mae (regression)
    min_slice_size: int = Field(default=20, ge=1)
    permutation_repeats: int = Field(default=3, ge=1)
    bootstrap: int = Field(default=200, ge=0)  # resamples for metric confidence intervals
    # Caps that keep evaluate linear in the split's size (seeded samples; the model card states them):
    # resamples of at most this many rows, rescaled to the split's size (an m-out-of-n bootstrap)
    bootstrap_rows: int = Field(default=50_000, ge=100)
    importance_rows: int = Field(default=10_000, ge=100)  # permutation importance on a sample this size
    plot_rows: int = Field(default=50_000, ge=100)  # confusion plot records (one per row) at most
    metrics_dir: str = A.METRICS_DIR
    plots_dir: str = A.PLOTS_DIR
    model_card: str = A.MODEL_CARD
    staleness: StalenessParams = Field(default_factory=StalenessParams)
    intended_use: str | None = None  # a sentence for the model card; default: derived from task and target
