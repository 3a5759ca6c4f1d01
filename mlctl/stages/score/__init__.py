"""`mlctl score`: the project's ML Test Score (Breck et al. 2017) from what it configures and runs.

Each of the 28 tests is automated (1 point), manual (0.5) or missing (0), with
the evidence (a params key, a dvc.yaml stage, a workflow step, a report) and
what to do next. A section's score is the sum of its tests' points; the
project's score is the lowest section's. Reads only: nothing is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlctl.stages.score.rubric import POINTS, SECTIONS, TESTS

if TYPE_CHECKING:
    from mlctl.core.project import Project
    from mlctl.params import Params
    from mlctl.stages.score.evidence import Context


@dataclass
class Finding:
    """One test of the rubric for this project."""

    id: str
    section: str
    title: str
    status: str  # automated | manual | missing
    points: float
    evidence: str
    next: str = ""


@dataclass
class ScoreResult:
    """The 28 findings, the section scores and the final (minimum) score."""

    tests: list[Finding]
    sections: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(ctx: Context) -> ScoreResult:
    """The pure core: every test of the rubric against ``ctx``."""
    tests = []
    for test_id, section, title, check in TESTS:
        status, evidence, todo = check(ctx)
        tests.append(Finding(test_id, section, title, status, POINTS[status], evidence, todo))
    sections = {s: sum(t.points for t in tests if t.section == s) for s in SECTIONS}
    return ScoreResult(tests, sections, min(sections.values()))


def run(params: Params, project: Project) -> ScoreResult:
    """Score the project at ``project`` as it is on disk."""
    from mlctl.stages.score.evidence import gather

    return judge(gather(project, params))


def band(score: float) -> str:
    """The paper's reading of a final score."""
    if score > 5:
        return "exceptional levels of automated testing and monitoring"
    if score > 3:
        return "strong levels of automated testing and monitoring"
    if score > 2:
        return "reasonably tested, more automation may help"
    if score > 1:
        return "a first pass at basic productionization"
    return "more of a research project than a productionized system"


def markdown(result: ScoreResult, heading: str = "#") -> str:
    """The score as Markdown: the sections, then every test with its evidence."""
    mark = {"automated": "✅ automated", "manual": "🟡 manual", "missing": "❌ missing"}
    lines = [
        f"{heading} ML Test Score: {result.score:g} ({band(result.score)})",
        "",
        "| section | score |",
        "|---|---:|",
        *[f"| {s} | {v:g} |" for s, v in result.sections.items()],
        "",
        "| test | | status | evidence | next |",
        "|---|---|---|---|---|",
    ]
    for t in result.tests:
        cells = [t.id, t.title, mark[t.status], t.evidence, t.next]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
