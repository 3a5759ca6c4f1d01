"""`mlctl replay`: logged requests through a candidate, compared with the champion's answers."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.handler import handled


@handled(show=lambda report: _show(report))  # a breached gate.replay limit (exit 5) carries its report
def replay(
    log: str = typer.Argument(
        None, help="Request-log directory, file or glob (default: replay.log, else serve.log_dir)."
    ),
    model: str = typer.Option(
        None, "--model", help="Candidate ONNX model (manifest beside it; default: replay.model)."
    ),
    champion: str = typer.Option(
        None, "--champion", help="Champion model to time beside the candidate: a path or name@stage."
    ),
    since: str = typer.Option(None, "--since", help="Start of the window: ISO time or a duration back (12h, 7d)."),
    until: str = typer.Option(None, "--until", help="End of the window (exclusive): ISO time or a duration back."),
    labels: str = typer.Option(None, "--labels", help="Labels file with request_id and the target, joined by id."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Replay logged traffic through a candidate and compare with the champion; exit 5 on a breached limit.

    Writes reports/replay.{json,md,html}. Exit codes: 0 within gate.replay, 5 a limit breached,
    3 no log / empty window, 4 not a request log, 8 candidate inputs not in the log.
    """
    from mlctl.cli.output import RichProgress, print_json
    from mlctl.params import override
    from mlctl.stages.replay import run

    project, params = load(project_dir)
    log, labels = user_path(log, project_dir), user_path(labels, project_dir)
    model = user_path(model, project_dir)
    if champion and "@" not in champion:
        champion = user_path(champion, project_dir)
    manifest = str(Path(model).with_suffix(".json")) if model else None
    updates = {"model": model, "manifest": manifest, "champion": champion, "since": since, "until": until}
    section = override(params.replay, {**updates, "labels": labels})
    log = log or params.replay.log or params.serve.log_dir
    with RichProgress() as bar:
        result = run(
            section,
            params.gate.replay,
            params.monitor,
            params.common,
            project,
            bar,
            log=log,
            unknown=params.serve.unknown_category,
        )
    data = result.to_dict()
    if as_json:
        print_json(data)
    else:
        _show(data)


def _show(data: dict) -> None:
    from mlctl.cli.output import ok, out, table, warn

    a = data["agreement"]
    out.print(
        f"replayed {data['log']['rows']} rows: {a['disagreements']} of {a['compared']} answered differently "
        f"({(a['disagreement'] or 0):.3%}); new rejects {data['rejects']['new']}; "
        f"latency ratio {data['latency'].get('ratio')}"
    )
    checks = (data.get("limits") or {}).get("checks") or []
    if checks:
        rows = [
            [c["metric"], c["value"], c["limit"], "skipped" if c["skipped"] else "ok" if c["passed"] else "FAILED"]
            for c in checks
        ]
        out.print(table("gate.replay", ["limit", "value", "bound", "verdict"], rows))
    paths = ", ".join(data.get("outputs", {}).values())
    if (data.get("limits") or {}).get("passed", True):
        ok(f"replay within limits → {paths}")
    else:
        warn(f"limits breached: {', '.join(data['limits']['failed'])} → {paths}")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
