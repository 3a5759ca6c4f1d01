"""params.yaml `evaluate:` — slices, the sensitive column and plots."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


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
    intended_use: str | None = None  # a sentence for the model card; default: derived from task and target
