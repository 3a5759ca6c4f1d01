"""What the rubric looks at: the effective params, the DVC pipeline, the CI/CD/CT workflows and the reports.

A check counts as automated only when something runs it without a person: a
stage of the project's dvc.yaml that a workflow with an automatic trigger
reproduces, or a step of such a workflow. The workflows are read as YAML; their
``run:`` scripts are searched with comments removed, so a commented-out step
does not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlctl.core.project import Project
    from mlctl.params import Params

WORKFLOWS = ("ci", "cd", "ct")
AUTOMATIC = {"push", "pull_request", "pull_request_target", "schedule", "release", "merge_group"}


@dataclass
class Workflow:
    """One GitHub Actions workflow: its file, what starts it, and its run scripts (comments removed)."""

    path: str
    triggers: set[str]
    scripts: list[str]

    @property
    def automatic(self) -> bool:
        return bool(self.triggers & AUTOMATIC)

    def runs(self, pattern: str) -> bool:
        """Whether a run script matches ``pattern`` (a regular expression)."""
        return any(re.search(pattern, s) for s in self.scripts)


@dataclass
class Context:
    """Everything the 28 tests are judged from."""

    params: Params
    stages: dict[str, Any]  # dvc.yaml stages
    workflows: dict[str, Workflow]
    root: Path
    tests: list[str] = field(default_factory=list)  # the project's test files

    def json(self, rel: str) -> Any:
        """A report or metrics file of the project (None when absent or unreadable)."""
        import json

        path = self.root / rel
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def workflow(self, name: str) -> Workflow | None:
        return self.workflows.get(name)

    def auto_runs(self, name: str, pattern: str) -> bool:
        """A workflow with an automatic trigger runs ``pattern``."""
        w = self.workflows.get(name)
        return w is not None and w.automatic and w.runs(pattern)

    def any_auto_runs(self, pattern: str) -> str | None:
        """The first automatic workflow running ``pattern``, by file."""
        return next((w.path for w in self.workflows.values() if w.automatic and w.runs(pattern)), None)

    @property
    def pipeline_in_ci(self) -> str | None:
        """The automatic workflow that reproduces the DVC pipeline (`mlctl run`, `dvc repro`, `mlctl retrain`)."""
        return self.any_auto_runs(r"\bmlctl run\b|\bdvc repro\b|\bmlctl retrain\b")

    def stage(self, name: str) -> bool:
        return name in self.stages


def _scripts(doc: dict[str, Any]) -> list[str]:
    out = []
    for job in (doc.get("jobs") or {}).values():
        for step in (job or {}).get("steps") or []:
            run = (step or {}).get("run")
            if isinstance(run, str):
                out.append(
                    "\n".join(line.split(" #")[0] for line in run.splitlines() if not line.lstrip().startswith("#"))
                )
    return out


def read_workflow(path: Path, rel: str) -> Workflow:
    import yaml

    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on:` key as True
    triggers = {on} if isinstance(on, str) else set(on or [])
    return Workflow(rel, {str(t) for t in triggers}, _scripts(doc))


def gather(project: Project, params: Params) -> Context:
    """The context of ``project`` as it is on disk."""
    import yaml

    root = project.root
    dvc_file = root / "dvc.yaml"
    stages = (yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}).get("stages", {}) if dvc_file.exists() else {}
    workflows = {}
    for name in WORKFLOWS:
        for suffix in ("yml", "yaml"):
            path = root / ".github" / "workflows" / f"{name}.{suffix}"
            if path.exists():
                workflows[name] = read_workflow(path, path.relative_to(root).as_posix())
                break
    tests = (
        sorted(p.relative_to(root).as_posix() for p in (root / "tests").glob("test_*.py"))
        if (root / "tests").is_dir()
        else []
    )
    return Context(params, stages, workflows, root, tests)
