"""params.yaml `report:` — what the pull-request report compares and where it is written."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class ReportParams(Section):
    """Inputs, outputs and limits of `mlctl report` (this revision against a base revision)."""

    base: str | None = None  # default: origin/main, else main, else HEAD~1; `--base` overrides
    output: str = A.PR_REPORT  # images go to a folder of the same name beside it (reports/pr/)
    metrics: str = f"{A.METRICS_DIR}/{A.METRICS_FILE}"  # shown in full; other dvc.yaml metrics files show what changed
    plots_dir: str = A.PLOTS_DIR  # DVC plot data (plots/*.csv) written by evaluate
    gate_report: str = A.GATE_REPORT
    validation_report: str = A.VALIDATION_REPORT
    train_report: str = f"{A.MODEL_DIR}/{A.TRAIN_REPORT_FILE}"  # packages and data hash recorded at training time
    raw_manifest: str = A.RAW_MANIFEST  # source fingerprints recorded by collect
    features: str = f"{A.METRICS_DIR}/{A.FEATURES_FILE}"  # feature value (evaluate): candidates to drop are listed
    monitor: str = f"{A.MONITOR_REPORT}.json"  # written by `mlctl monitor` (continuous training): its verdict is shown
    replay: str = f"{A.REPLAY_REPORT}.md"  # written by `mlctl replay`: quoted when present
    perf: str = A.BENCH_REPORT  # written by `mlctl bench`; the base branch's from git
    perf_tolerance: float = Field(default=0.15, ge=0)  # relative change in timings treated as noise
    train_data: str = A.TRAIN_DATA  # drift: this revision's against the base's
    drift_psi_threshold: float = Field(default=0.2, gt=0)
    drift_p_value: float = Field(default=0.01, gt=0, lt=1)
    drift_bins: int = Field(default=10, ge=2, le=100)
    max_rows: int = Field(default=40, ge=5)  # rows per table in the Markdown; the rest is summarised
    timeout: float = Field(default=30, gt=0)  # seconds, for dvc subprocesses and each GitHub request
