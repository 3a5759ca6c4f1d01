"""`mlctl retrain`: close the loop — new data, re-run, candidate committed on a branch."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.errors import handled


@handled
def retrain(
    data: Path = typer.Option(None, "--data", help="Newly labelled rows (CSV/Parquet/JSON-lines) to append."),
    trigger: str = typer.Option("manual", "--trigger", help="manual, schedule, new-data or drift (recorded)."),
    branch: str = typer.Option(
        None,
        "--branch",
        help="Branch for the candidate (default retrain/<UTC time>); a fixed one (mlctl/retrain) is reset each run.",
    ),
    if_advised: bool = typer.Option(
        False, "--if-advised", help="Only retrain if reports/monitor.json advises it (drift or decay)."
    ),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Append new labelled data, re-run the pipeline, let the gate judge, commit on a branch if anything changed.

    In GitHub Actions, writes the step outputs changed, branch, commit and gate_passed to $GITHUB_OUTPUT.
    """
    from mlctl.cli.output import RichProgress, ok, out, print_json, table, warn
    from mlctl.errors import GateRejectedError
    from mlctl.reporting.github import write_step_outputs
    from mlctl.stages.retrain import run

    project, params = load(project_dir)
    with RichProgress() as bar:
        result = run(
            params.retrain,
            params.collect,
            project,
            data=user_path(data, project_dir),
            trigger=trigger,
            branch=branch,
            if_advised=if_advised,
            progress=bar,
        )
    write_step_outputs(  # for the next workflow steps: `if: steps.retrain.outputs.changed == 'true'`
        {
            "changed": "true" if result.changed else "false",
            "branch": result.branch or "",
            "commit": result.commit or "",
            "gate_passed": {True: "true", False: "false"}.get(result.gate_passed, ""),
        }
    )
    if as_json:
        print_json(result.to_dict())
    elif result.skipped:
        ok(result.skipped)
    else:
        out.print(f"rows: {result.rows_before} → {result.rows_after} (+{result.appended_rows} appended)")
        rows = [
            [m, b, a, (a - b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None]
            for m, b, a in result.metric_changes()
        ]
        out.print(table("metrics: champion → candidate", ["metric", "before", "after", "change"], rows))
        ok(f"committed {result.commit[:8] if result.commit else '?'} on branch {result.branch}; open a pull request")
    if result.gate_passed is False and result.changed:
        if not as_json:
            warn(f"the gate rejected the candidate: {', '.join(result.gate_failures)}")
        raise GateRejectedError(
            f"candidate on {result.branch} rejected ({', '.join(result.gate_failures)})", where="reports/gate.json"
        )


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)
