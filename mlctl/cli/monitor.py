"""`mlctl monitor`: drift, decay, skew, quality and staleness of the served model."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load, user_path
from mlctl.cli.handler import handled


@handled(show=lambda report: _show(report))  # drift (exit 7) carries its report
def monitor(
    current: str = typer.Argument(
        None,
        help="Current data: a file (csv/parquet/jsonl), a request-log directory or batch outputs "
        "(default: monitor.current).",
    ),
    labels: str = typer.Option(None, "--labels", help="Labels file with request_id and the target, joined by id."),
    window: str = typer.Option(None, "--window", help="Time window for the trend: hour, day or week."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Compare current data with the reference; exit 7 when retraining is advised, 9 on an alert.

    Writes reports/monitor.{json,md,html}. monitor.policy says what each check's
    finding does. Exit codes: 0 nothing to act on, 7 retraining advised (drift,
    decay, staleness, value skew), 9 alert (skew, data quality, numerical health),
    2/3/4/8 failures.
    """
    from mlctl.cli.output import RichProgress, print_json
    from mlctl.params import override
    from mlctl.stages.monitor import run

    project, params = load(project_dir)
    # relative to where the command runs (-C DIR), anywhere
    current, labels = user_path(current, project_dir), user_path(labels, project_dir)
    section = override(params.monitor, {"window": window})
    with RichProgress() as bar:
        result = run(section, params.common, project, bar, current=current, labels=labels, validate=params.validate_)
    data = result.to_dict()
    if as_json:
        print_json(data)
    else:
        _show(data)


def _show(data: dict) -> None:
    from mlctl.cli.output import ok, out, table, warn

    rows = [
        [r["feature"], r["test"], r["statistic"], r["p_value"], r["psi"], "yes" if r["drifted"] else ""]
        for r in data["drift"]["features"]
    ]
    if data.get("prediction_drift"):
        p = data["prediction_drift"]
        rows.append(["(prediction)", p["test"], p["statistic"], p["p_value"], p["psi"], "yes" if p["drifted"] else ""])
    out.print(table("drift", ["feature", "test", "statistic", "p-value", "PSI", "drifted"], rows))
    perf = data["performance"]
    if "metrics" in perf:
        out.print(
            f"{perf['primary_metric']}: {perf['current']} on {perf['labelled_rows']} labelled rows "
            f"(evaluated {perf.get('reference')})"
        )
    for alert in data["alerts"]:
        warn(alert)
    paths = ", ".join(data.get("outputs", {}).values())
    if data.get("action", "ok") == "ok":
        ok(f"nothing to act on ({data['current']['rows']} rows) → {paths}")
    else:
        out.print(f"verdict: {data['verdict']}, action: {data['action']}; reports → {paths}")


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
