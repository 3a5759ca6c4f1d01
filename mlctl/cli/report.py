"""`mlctl report`: the pull-request report (this revision against a base revision)."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.errors import handled


@handled
def report(
    base: str = typer.Option(
        None, "--base", help="Base revision to compare with (default: origin/main, else main, else HEAD~1)."
    ),
    output: str = typer.Option(None, "--output", "-o", help="Markdown file to write (default: reports/pr.md)."),
    post: bool = typer.Option(
        False,
        "--post",
        help="Create or update this report's comment on the pull request (GitHub Actions: needs GITHUB_TOKEN).",
    ),
    branch: str = typer.Option(
        None,
        "--branch",
        help="With --post: open (or update) the one pull request from this branch into the base branch, and "
        "comment there (continuous training; needs GITHUB_TOKEN and GITHUB_REPOSITORY, not a pull_request event).",
    ),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write a Markdown report of metrics, params, gate, data and performance against a base revision.

    Images go beside the report (reports/pr/), never to a third-party host.
    Exit codes: 0 written (and posted), 2 bad option or missing GITHUB_TOKEN,
    3 unknown base revision, 6 git or GitHub failed.
    """
    from mlctl.cli.output import RichProgress, ok, out, print_json, table
    from mlctl.stages.report import run

    project, params = load(project_dir)
    with RichProgress() as bar:
        result = run(
            params.report,
            params.common,
            project,
            bar,
            base=base,
            output=user_path(output, project_dir),
            post=post,
            branch=branch,
        )
    if as_json:
        print_json(result.to_dict())
        return
    data = result.data
    rows = [[s["file"], sum(1 for r in s["rows"] if _changed(r)), len(s["rows"])] for s in data["metrics"]]
    title = f"metrics vs {data['base']['ref']} ({data['base']['commit'][:8]})"
    out.print(table(title, ["file", "changed", "values"], rows))
    gate = data["gate"]
    if gate is not None:
        out.print(f"gate: {'passed' if gate.get('passed') else 'REJECTED'}")
    for note in data["notes"]:
        out.print(f"note: {note}")
    ok(f"report → {result.output} ({len(data['figures'])} images in {result.image_dir}/)")
    if result.posted:
        ok(f"pull request #{result.posted['pull_request']}: comment {result.posted['action']} ({result.posted['url']})")


def _changed(row: dict) -> bool:
    from mlctl.reporting.diff import MetricRow

    return MetricRow(**row).changed


def register(app: typer.Typer) -> None:
    app.command("report")(report)
