"""params.yaml `gate:` — the rules a candidate must pass before it ships."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class Threshold(Section):
    """An absolute bound on one metric."""

    min: float | None = None
    max: float | None = None


class ChampionParams(Section):
    """Compare with the champion: its model, fetched at a git revision or a registry stage, on today's test rows."""

    ref: str | None = None  # e.g. "main", "HEAD~1", or a registry reference "model@prod"
    fallback: str | None = None  # tried when `ref` does not resolve (e.g. "main" until a version is in prod)
    tolerance: float = Field(default=0.01, ge=0)  # the regression allowed at the paired interval's bound
    metrics: list[str] = Field(default_factory=list)  # default: the primary metric
    resamples: int = Field(default=200, ge=1)  # paired bootstrap resamples over the test rows


class ReplayLimits(Section):
    """Limits on `mlctl replay`'s report (reports/replay.json): judged when it exists, skipped otherwise."""

    max_disagreement: float | None = Field(default=None, ge=0, le=1)  # share of rows answered differently
    max_new_rejects: int | None = Field(default=0, ge=0)  # rows the candidate rejects that the champion answered
    max_latency_ratio: float | None = Field(default=None, gt=0)  # candidate / champion single-row median
    report: str = f"{A.REPLAY_REPORT}.json"


class GateParams(Section):
    """Rules from params: thresholds, baseline margin, champion, slices, fairness, size, latency."""

    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    primary_metric: str | None = None  # default: roc_auc / r2
    baseline_margin: float = Field(default=0.0, ge=0)
    champion: ChampionParams = Field(default_factory=ChampionParams)
    # metric -> the worst value allowed in every evaluated slice: a floor for scores
    # (accuracy, recall...), a ceiling for errors (mae, log_loss...)
    slice_min: dict[str, float] = Field(default_factory=dict)
    # metric -> the fraction by which any evaluated slice may be worse than the whole test split
    # (0.1: roc_auc 0.8 overall -> every slice >= 0.72); slices under evaluate.min_slice_size are reported, not judged
    slice_max_drop: dict[str, float] = Field(default_factory=dict)
    max_fairness_gap: float | None = Field(default=None, ge=0)
    # features whose permutation importance interval includes 0 (metrics/features.json) allowed; None: not judged
    max_useless_features: int | None = Field(default=None, ge=0)
    max_model_mb: float | None = Field(default=None, gt=0)
    max_latency_ms: float | None = Field(default=None, gt=0)  # single-row predict, median
    replay: ReplayLimits = Field(default_factory=ReplayLimits)  # candidate vs champion on logged traffic
    latency_calls: int = Field(default=50, ge=50)  # single-row predict calls timed for the median
    report: str = A.GATE_REPORT
    metrics_dir: str = A.METRICS_DIR  # where `mlctl evaluate` wrote evaluate.json, intervals.json, slices.json
    model_dir: str = A.MODEL_DIR  # model.skops (size, latency) and train.json (candidate, features)
    data: str = A.TEST_DATA  # rows timed for the latency rule
    model_card: str = A.MODEL_CARD  # `mlctl evaluate`'s card: the gate writes its champion section
