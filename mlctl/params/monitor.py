"""params.yaml `monitor:` — drift tests, thresholds and staleness."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section

Action = Literal["retrain", "alert", "ignore"]


class MonitorPolicy(Section):
    """What each finding does to `mlctl monitor`'s exit code: retrain (7), alert (9) or ignore (0)."""

    data_drift: Action = "retrain"
    prediction_drift: Action = "retrain"
    decay: Action = "retrain"
    staleness: Action = "retrain"
    value_skew: Action = "retrain"  # values outside the training ranges (`mlctl validate`'s profile checks)
    skew: Action = "alert"  # served predictions differ from the model's: a serving bug
    data_quality: Action = "alert"  # missing features, inputs the model refuses, schema skew
    numerical_health: Action = "alert"  # NaN/inf predictions or probabilities


class MonitorParams(Section):
    """How current data is compared with the reference, and when to advise retraining."""

    current: str = A.REQUEST_LOGS  # a file, a directory of request logs, or batch outputs
    reference: str = A.TRAIN_DATA
    model: str = A.ONNX_MODEL
    manifest: str = A.MANIFEST
    evaluation: str = f"{A.METRICS_DIR}/{A.METRICS_FILE}"
    labels: str | None = None  # optional labels file: request_id + the target column
    p_value: float = Field(default=0.01, gt=0, lt=1)  # per-feature test level (KS / chi-square)
    psi_threshold: float = Field(default=0.2, gt=0)
    wasserstein_threshold: float = Field(default=0.1, gt=0)  # in reference std, for large samples
    jensenshannon_threshold: float = Field(default=0.1, gt=0, le=1)  # base-2 distance, for large samples
    large_sample: int = Field(default=1000, ge=10)  # effective rows above which distances replace p-values
    bins: int = Field(default=10, ge=2, le=100)  # reference-quantile bins for PSI and the window figures
    drift_share: float = Field(default=0.3, gt=0, le=1)  # share of drifted features => dataset drift
    decay_tolerance: float = Field(default=0.05, ge=0)  # allowed drop of the primary metric
    primary_metric: str | None = None  # default: roc_auc (accuracy without probabilities) / r2
    min_labelled_rows: int = Field(default=30, ge=1)  # fewer labelled rows: decay is not judged
    skew_tolerance: float = Field(default=1e-4, ge=0)  # served vs offline prediction difference allowed
    policy: MonitorPolicy = Field(default_factory=MonitorPolicy)
    max_model_age_days: float = Field(default=90, gt=0)
    # evaluate's staleness curve (metrics/staleness.json): its advised maximum age replaces max_model_age_days
    staleness: str | None = None
    window: Literal["hour", "day", "week"] | None = "day"
    timestamp_column: str = "timestamp"
    min_window_rows: int = Field(default=100, ge=1)  # smaller windows get no drift figure
    chunk_rows: int = Field(default=200_000, ge=1000)
    sample_rows: int = Field(default=50_000, ge=100)  # rows per side kept for the tests
    max_plots: int = Field(default=12, ge=0)  # distribution plots of drifted features in the HTML
    report_html: str = f"{A.MONITOR_REPORT}.html"
    report_md: str = f"{A.MONITOR_REPORT}.md"
    report_json: str = f"{A.MONITOR_REPORT}.json"
