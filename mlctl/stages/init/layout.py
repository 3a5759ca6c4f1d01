"""Write a new project's files: the data under DVC, params.yaml, dvc.yaml, README, CI, the schema."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlctl.stages.init.roles import Analysis

SOURCES = "data/sources"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "data"


def copy_source(root: Path, analysis: Analysis) -> str:
    """Copy the data file into data/sources/ (DVC tracks it there); return its project path."""
    target = root / SOURCES / _safe(analysis.data.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(analysis.data, target)
    return target.relative_to(root).as_posix()


def _example(analysis: Analysis) -> dict[str, Any]:
    """One row of model inputs (dates expanded as prepare does) for the README's curl example."""
    import pandas as pd

    from mlctl.data.cleaning import coerce_types, date_features

    dates = [r.name for r in analysis.roles if r.role == "date"]
    keep = [r.name for r in analysis.features]
    row = analysis.frame[keep].dropna().head(1)
    if row.empty:
        row = analysis.frame[keep].head(1)
    row, _ = coerce_types(row, date_columns=dates)
    row, _ = date_features(row, dates, ["year", "month", "dayofweek"])
    out = {}
    for name, value in row.iloc[0].items():
        if pd.isna(value):
            out[name] = None
        elif hasattr(value, "item"):
            out[name] = value.item()
        else:
            out[name] = value if isinstance(value, (int, float, bool)) else str(value)
    return out


def _features_md(analysis: Analysis) -> str:
    lines = [f"- `{r.name}`: {r.kind}" + (f" ({r.reason})" if r.reason else "") for r in analysis.features]
    return "\n".join(lines) or "(none)"


def _excluded_md(analysis: Analysis) -> str:
    lines = [f"- `{r.name}` (`{r.where}`): {r.reason}" for r in analysis.excluded]
    return "\n".join(lines) or "None: every column is a feature."


def _missing_sections(params: dict, task: str) -> str:
    """`name: {}` for every params section dvc.yaml depends on that params.yaml lacks (DVC needs them)."""
    from mlctl.repo.dvcfile import stages

    needed = [str(p).split(".")[0] for stage in stages(task).values() for p in stage.get("params", [])]
    missing = [n for n in dict.fromkeys(needed) if n not in params]
    return "".join(
        f"{n}: {{}}                                # the defaults apply (`mlctl params show {n}`)\n" for n in missing
    )


def write_files(root: Path, analysis: Analysis, source: str, *, requirement: str, quick: bool = False) -> None:
    """params.yaml (validated), dvc.yaml, ignore files, README.md, pyproject, Dockerfile, tests, workflows."""
    import yaml

    from mlctl.core.fileio import write_text
    from mlctl.params import parse_params
    from mlctl.repo.dvcfile import render as render_dvc
    from mlctl.stages.init import files, plan

    info = analysis.target_info
    params_text = plan.render(
        target_name=analysis.target,
        target=info,
        roles=analysis.roles,
        source_name=_safe(Path(source).stem) if analysis.remote is None else "data",
        source_path=source,
        remote=analysis.remote,
        rows=analysis.rows,
        quick=quick,
        fairness=analysis.fairness,
    )
    params_text += _missing_sections(yaml.safe_load(params_text), info.task)
    parsed = parse_params(yaml.safe_load(params_text), "params.yaml (generated)")  # a bug here must not reach the user
    write_text(root / "params.yaml", params_text)
    write_text(root / "dvc.yaml", render_dvc(info.task, parsed))
    write_text(root / ".gitignore", files.template_text("project", "gitignore"))
    write_text(root / ".dvcignore", files.template_text("project", "dvcignore"))
    task_line = info.task + (f", {info.n_classes} classes" if info.task == "classification" else "")
    values = {
        "name": root.name,
        "package": files.package_name(root.name),
        "source": source,
        "source_file": Path(source).name,
        "source_node": f"data/sources/{Path(source).name}" if analysis.remote is None else "(the source's URL)",
        "rows": f"{analysis.rows:,}",
        "n_columns": analysis.columns,
        "target": analysis.target,
        "task": info.task,
        "task_line": task_line,
        "features": _features_md(analysis),
        "excluded": _excluded_md(analysis),
        "example": json.dumps(_example(analysis), default=str),
        "mlctl_requirement": json.dumps(requirement),  # a TOML basic string
    }
    write_text(root / "README.md", files.render(files.template_text("project", "README.md"), **values))
    write_text(root / "pyproject.toml", files.render(files.template_text("project", "pyproject.toml"), **values))
    write_text(root / "tests" / "test_project.py", files.template_text("project", "tests", "test_project.py.txt"))
    write_text(root / "Dockerfile", files.render(files.template_text("project", "Dockerfile"), **values))
    write_text(root / ".dockerignore", files.template_text("project", "dockerignore"))
    for name, text in files.workflow_templates().items():
        write_text(root / ".github" / "workflows" / name, text)


def infer_schema(root: Path) -> list[str]:
    """Collect the data once, infer data/schema.yaml + data/profile.json, then remove the collected copy.

    The schema is inferred from exactly what `mlctl collect` produces, so the first
    `mlctl validate` agrees with it; data/raw is left for `dvc repro` to make and track.
    """
    from mlctl.core.project import Project
    from mlctl.data.schema import run_infer
    from mlctl.params import load_params
    from mlctl.stages.collect import run as collect

    project = Project(root)
    params = load_params(project.params_path)
    collected = collect(params.collect, params.common, project)
    result = run_infer(params.validate_, params.common, project)
    shutil.rmtree(root / "data" / "raw", ignore_errors=True)
    return list(collected.warnings) + list(result.warnings)
