"""The result of `mlctl evaluate` and the report time stamp, shared by the stage and its model card."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


@dataclass
class EvaluateResult:
    """What `mlctl evaluate` measured and where it wrote it."""

    task: str
    split: str
    rows: int
    metrics: dict[str, dict[str, float | None]]  # "model"/"baseline" -> metric -> value
    undefined: dict[str, dict[str, str]]  # "model"/"baseline" -> metric -> why it is null
    intervals: dict[str, dict[str, Any]]  # metric -> {low, high, defined}
    slices: dict[str, Any]
    fairness: dict[str, Any] | None
    importance: list[dict[str, Any]]
    importance_scoring: str
    feature_value: dict[str, Any] = field(default_factory=dict)  # permutation importance intervals (features.json)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    rows_dropped: int = 0
    staleness: dict[str, Any] | None = None  # the staleness curve (metrics/staleness.json)
    plots: dict[str, list[dict]] = field(default_factory=dict, repr=False)
    sampling: dict[str, Any] = field(default_factory=dict)  # rows each measurement used (caps: evaluate.*_rows)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("plots")
        return data


def generated_at() -> str:
    """The UTC time stamp written into reports."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
