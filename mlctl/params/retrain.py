"""params.yaml `retrain:` — how continuous training appends data and proposes a candidate."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class RetrainParams(Section):
    """Where new labelled data goes, and the branch the candidate is committed on."""

    source: str | None = None  # collect source (by name) that new data is appended to; default: the first file
    branch_prefix: str = Field(default="retrain", pattern=r"^[A-Za-z0-9._/-]+$")
    monitor_report: str = f"{A.MONITOR_REPORT}.json"  # read by --if-advised
