"""params.yaml `evaluate:` — slices, the sensitive column and plots."""

from __future__ import annotations

from pydantic import Field

from mlctl.params.base import Section


class EvaluateParams(Section):
    """How the candidate and the baseline are scored on the test split."""

    split: str = "test"  # a split written by `mlctl prepare`: <input_dir>/<split>.parquet
    input_dir: str = "data/processed"
    model_dir: str = "models"  # where `mlctl train` wrote model.skops, baseline.skops, train.json
    slices: list[str] = Field(default_factory=list)  # categorical columns to score per level
    sensitive: str | None = None  # column for the group-fairness gap
    fairness_metric: str | None = None  # default: recall (classification) / mae (regression)
    min_slice_size: int = Field(default=20, ge=1)
    permutation_repeats: int = Field(default=3, ge=1)
    bootstrap: int = Field(default=200, ge=0)  # resamples for metric confidence intervals
    metrics_dir: str = "metrics"
    plots_dir: str = "plots"
    model_card: str = "reports/model_card.md"
    intended_use: str | None = None  # a sentence for the model card; default: derived from task and target
