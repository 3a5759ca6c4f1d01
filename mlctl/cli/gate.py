"""`mlctl gate`: the model validation gate before deployment (exit 5 on rejection)."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load
from mlctl.cli.handler import handled


def _print(report: dict) -> None:
    from mlctl.cli.output import out, table

    def outcome(rule: dict) -> str:
        if rule["skipped"]:
            return "[yellow]skipped[/yellow]"
        return "[green]pass[/green]" if rule["passed"] else "[bold red]FAIL[/bold red]"

    rows = [[r["rule"], r["metric"], r["value"], r["limit"], outcome(r), r["detail"]] for r in report["rules"]]
    title = f"gate: candidate {report['candidate']} (primary metric {report['primary_metric']})"
    out.print(table(title, ["rule", "metric", "value", "limit", "outcome", "detail"], rows))


@handled(show=_print)
def gate(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Check the candidate against the rules in `gate:` and write reports/gate.json; exit 5 if rejected."""
    from mlctl.cli.output import RichProgress, ok, print_json
    from mlctl.stages.gate import run

    project, params = load(project_dir)
    with RichProgress() as bar:  # a rejection (exit 5) carries its report: cli.handler prints it
        result = run(params.gate, params.common, project, progress=bar)
    if as_json:
        print_json(result.to_dict())
        return
    _print(result.to_dict())
    ok(f"candidate {result.candidate} passed the gate ({result.report})")


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)
