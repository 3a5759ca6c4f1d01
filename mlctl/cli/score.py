"""`mlctl score`: the project's ML Test Score, test by test, with the evidence."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.handler import handled


@handled
def score(
    markdown: str = typer.Option(None, "--markdown", help="Also write the score as Markdown to this file."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The ML Test Score (Breck et al. 2017): 28 tests as automated / manual / missing, with the evidence.

    Judged from params.yaml, dvc.yaml, .github/workflows/{ci,cd,ct}.yml and the reports: a test is
    automated only when a stage the CI reproduces, or a step of an automatically triggered
    workflow, runs it. A section scores the sum of its points (1 automated, 0.5 manual); the
    project scores its lowest section. Reads only (--markdown writes the one file).
    """
    from mlctl.cli.output import ok, out, table
    from mlctl.stages.score import band, run
    from mlctl.stages.score import markdown as render

    project, params = load(project_dir)
    result = run(params, project)
    if markdown:
        from mlctl.core.fileio import write_text

        write_text(user_path(markdown, project_dir), render(result))
    if as_json:
        from mlctl.cli.output import print_json

        print_json(result.to_dict())
        return
    colour = {
        "automated": "[green]automated[/green]",
        "manual": "[yellow]manual[/yellow]",
        "missing": "[red]missing[/red]",
    }
    rows = [[t.id, t.title, colour[t.status], t.evidence, t.next] for t in result.tests]
    out.print(table("ML Test Score", ["test", "title", "status", "evidence", "next"], rows))
    out.print(table(None, ["section", "score"], [[s, v] for s, v in result.sections.items()]))
    ok(f"score {result.score:g}: {band(result.score)} (the lowest section)")


def register(app: typer.Typer) -> None:
    app.command("score")(score)
