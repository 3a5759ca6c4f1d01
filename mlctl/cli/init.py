"""`mlctl init DIR --data FILE --target COLUMN`: a new, ready-to-run project."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt
from mlctl.cli.handler import handled


def _interactive() -> bool:
    """Prompts only for a person at a terminal: never in CI, pipes or tests."""
    return sys.stdin.isatty()


def _show(analysis) -> None:
    from mlctl.cli.output import out, table

    info = analysis.target_info
    out.print(f"[bold]{analysis.data}[/bold]: {analysis.rows:,} rows, {analysis.columns} columns")
    balance = ""
    if info.task == "classification":
        minority = f", minority {info.minority_share:.0%}" if info.minority_share else ""
        balance = f", {info.n_classes} classes{minority}"
    out.print(f"target [bold]{analysis.target}[/bold] → {info.task} ({info.reason}{balance})")
    rows = [[r.name, r.kind, r.role, r.where or "feature", r.reason] for r in analysis.roles]
    out.print(table("columns", ["column", "kind", "role", "goes to", "why"], rows))
    personal = [r for r in analysis.roles if r.role == "personal"]
    if personal:
        listed = "; ".join(f"{r.name}: {r.reason.removeprefix('personal data: ')}" for r in personal)
        out.print(f"personal data, never a feature (validate.personal_data): {listed}")


def _query(analysis) -> str | None:
    return (analysis.remote or {}).get("query")


def _kept(analysis) -> dict:
    """The choices a re-analysis keeps: the query, the --sensitive columns and whether fairness is measured."""
    named = [r.name for r in analysis.roles if r.sensitive]
    return {"query": _query(analysis), "sensitive": named, "fairness": analysis.fairness}


def _ask(analysis, task: str | None, exclude: list[str], keep: list[str]):
    """Let a person at a terminal confirm or change the task and the excluded columns."""
    from mlctl.stages.init import analyse

    info = analysis.target_info
    if task is None:
        chosen = typer.prompt("Task", default=info.task, type=typer.Choice(["classification", "regression"]))
        if chosen != info.task:
            task = chosen
            analysis = analyse(analysis.data, analysis.target, task=task, exclude=exclude, keep=keep, **_kept(analysis))
    names = [r.name for r in analysis.excluded]
    if names and not typer.confirm(f"Exclude {', '.join(names)} from the features?", default=True):
        answer = typer.prompt("Columns to exclude (comma-separated, empty for none)", default="", show_default=False)
        wanted = {a.strip() for a in answer.split(",") if a.strip()}
        exclude = sorted(set(exclude) | wanted)
        keep = sorted(set(keep) | (set(names) - wanted))
        analysis = analyse(analysis.data, analysis.target, task=task, exclude=exclude, keep=keep, **_kept(analysis))
    from mlctl.stages.init.plan import sensitive

    proposed = sensitive(analysis.roles, analysis.fairness)
    if proposed is not None and not proposed.sensitive:
        question = f"Measure the fairness gap over {proposed.name!r} ({proposed.reason.split(';')[0]})?"
        analysis.fairness = typer.confirm(question, default=True)
    return analysis


@handled
def init(
    directory: Path = typer.Argument(..., help="The new project's directory (created; must be empty if it exists)."),
    data: str = typer.Option(
        ...,
        "--data",
        "-d",
        metavar="PATH|URL",
        help="CSV, Parquet or JSON-lines data: copied, tracked by DVC. Or a database URL with --query "
        "(sqlite:///file.db, postgresql://..., '${DATABASE_URL}'), or an HTTP(S) file URL: collected on every run.",
    ),
    target: str = typer.Option(..., "--target", "-t", help="The column to predict."),
    task: str = typer.Option(None, "--task", help="classification or regression (default: inferred from the target)."),
    exclude: list[str] = typer.Option(None, "--exclude", "-x", help="Never use this column as a feature (repeatable)."),
    keep: list[str] = typer.Option(None, "--keep", help="Keep this column as a feature even if it looks unusable."),
    sensitive: list[str] = typer.Option(
        None,
        "--sensitive",
        help="A protected attribute: never a feature; fairness is measured over the first.",
    ),
    no_sensitive: bool = typer.Option(False, "--no-sensitive", help="Measure no fairness gap (no evaluate.sensitive)."),
    query: str = typer.Option(None, "--query", "-q", help="With a database URL: the SQL query giving the table."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accept what was inferred without asking."),
    quick: bool = typer.Option(False, "--quick", help="Tiny search and evaluation budgets (a fast first run)."),
    mlctl_spec: str = typer.Option(
        None,
        "--mlctl-spec",
        help="The mlctl the project installs: 'mlctl-toolkit==X', a git URL with a tag, or a wheel URL "
        "(default: how this mlctl was installed). Written once, into the project's pyproject.toml.",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Create a project from one data file: git + DVC, params.yaml, schema, dvc.yaml, README and CI workflows."""
    from mlctl.cli.output import RichProgress, ok, out, print_json, warn
    from mlctl.core.errors import ConfigError
    from mlctl.stages.init import analyse, check_directory, create
    from mlctl.stages.init.spec import resolve

    if task is not None and task not in ("classification", "regression"):
        raise ConfigError(f"--task must be classification or regression, not {task!r}")
    exclude, keep = list(exclude or []), list(keep or [])
    check_directory(directory)  # before reading a large file
    spec = resolve(mlctl_spec)
    sensitive = list(sensitive or [])
    analysis = analyse(
        data, target, task=task, exclude=exclude, keep=keep, query=query, sensitive=sensitive, fairness=not no_sensitive
    )
    if not as_json:
        _show(analysis)
    if _interactive() and not yes and not as_json:
        analysis = _ask(analysis, task, exclude, keep)
    if as_json:
        result = create(directory, analysis, quick=quick, spec=spec)
        print_json(result.to_dict())
        return
    with RichProgress() as bar:
        result = create(directory, analysis, progress=bar, quick=quick, spec=spec)
    for message in result.warnings:
        warn(message)
    out.print(f"mlctl requirement (pyproject.toml): {result.mlctl_requirement}")
    ok(f"created {result.directory} ({len(result.files)} files in git, commit {result.commit[:8]})")
    out.print(f"next: cd {directory} && mlctl run   # then: mlctl serve")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
