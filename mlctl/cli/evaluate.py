"""`mlctl evaluate`: score the model and the baseline on the test split."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load
from mlctl.cli.handler import handled


def _ci(interval: dict | None) -> str:
    if not interval or interval.get("low") is None:
        return ""
    return f"[{interval['low']:.4g}, {interval['high']:.4g}]"


@handled
def evaluate(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Score the candidate and the baseline on the test split: metrics, intervals, slices, plots, model card."""
    from mlctl.cli.output import RichProgress, ok, out, print_json, table, warn
    from mlctl.model.metrics import metric_names
    from mlctl.stages.evaluate import run

    project, params = load(project_dir)
    with RichProgress() as bar:
        result = run(params.evaluate, params.common, project, progress=bar)
    if as_json:
        print_json(result.to_dict())
        return
    model, base = result.metrics["model"], result.metrics["baseline"]
    rows = [[m, model[m], base[m], _ci(result.intervals.get(m))] for m in metric_names(result.task)]
    out.print(table(f"{result.split} split ({result.rows} rows)", ["metric", "model", "baseline", "95% CI"], rows))
    for metric, why in result.undefined["model"].items():
        warn(f"{metric} is undefined: {why}")
    if result.fairness and result.fairness["gap"] is not None:
        f = result.fairness
        out.print(f"fairness: {f['metric']} gap {f['gap']:.4g} over {f['column']!r} (worst group {f['worst_group']!r})")
    if result.slices["skipped"]:
        skipped = ", ".join(f"{s['column']}={s['value']}" for s in result.slices["skipped"])
        warn(f"slices skipped (fewer than {result.slices['min_slice_size']} rows): {skipped}")
    for note in result.notes:
        warn(note)
    ok(f"wrote {', '.join(result.files)}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
