"""The gate's verdict: one Rule per check and the GateResult that collects them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


@dataclass
class Rule:
    """One check of the gate and its outcome."""

    rule: str
    metric: str | None
    value: float | None
    limit: float | None
    passed: bool
    skipped: bool = False
    detail: str = ""


@dataclass
class GateResult:
    """The gate's decision with every rule."""

    passed: bool
    candidate: str
    primary_metric: str
    rules: list[Rule]
    report: str = ""
    model: str = ""
    failed: list[str] = field(default_factory=list)
    # the champion on the candidate's rows: ref, commit, version, rows, rows_sha256, scores, paired intervals
    champion: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
