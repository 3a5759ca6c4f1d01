"""params.yaml `replay:` — logged requests run through a candidate and compared with the champion's answers."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class ReplayParams(Section):
    """Which log, which candidate, which rows; the limits are in `gate.replay`."""

    log: str | None = None  # request-log directory or glob; set: `replay` becomes a DVC stage (default: serve's)
    model: str = A.ONNX_MODEL  # the candidate
    manifest: str = A.MANIFEST
    champion: str | None = None  # the champion's model (path or name@stage), timed beside the candidate
    champion_version: str | None = None  # the logged version that is the champion (default: every champion row)
    labels: str | None = None  # request_id + the target, joined by id
    since: str | None = None  # ISO time, or a duration back from now: 30m, 12h, 7d
    until: str | None = None
    slices: list[str] | None = None  # columns to break agreement down by (default: the categorical inputs)
    max_slice_values: int = Field(default=20, ge=1)
    top: int = Field(default=20, ge=0)  # largest disagreements listed with their inputs
    tolerance: float = Field(default=1e-6, ge=0)  # regression: |candidate - champion| above this disagrees
    latency_rows: int = Field(default=500, ge=10)  # single-row calls timed per model
    chunk_rows: int = Field(default=200_000, ge=1000)
    report_json: str = f"{A.REPLAY_REPORT}.json"
    report_md: str = f"{A.REPLAY_REPORT}.md"
    report_html: str = f"{A.REPLAY_REPORT}.html"
