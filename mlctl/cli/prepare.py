"""`mlctl prepare`: clean and split the collected data, and write the EDA report."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load
from mlctl.cli.handler import handled


@handled
def prepare(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Clean and split the raw data into train/validation/test, and write the EDA report.

    Cleaning coerces types, drops duplicates and rows without a target, and turns dates
    into features. Writes data/processed/{train,validation,test}.parquet + manifest.json
    and reports/eda.html + eda.md (paths from the prepare: section of params.yaml).
    """
    from mlctl.cli.output import RichProgress, ok, out, print_json, table, warn
    from mlctl.stages.prepare import run

    project, params = load(project_dir)
    if as_json:
        result = run(params.prepare, params.common, project)
        print_json(result.to_dict())
        return
    with RichProgress() as bar:
        result = run(params.prepare, params.common, project, progress=bar)
    rows = [[name, result.rows[name], result.files[name]] for name in ("train", "validation", "test")]
    out.print(table("splits", ["split", "rows", "file"], rows))
    dropped = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in result.dropped.items())
    out.print(f"rows: {result.rows['input']} in, {result.rows['after_cleaning']} kept (dropped: {dropped})")
    for col, parts in result.date_features.items():
        out.print(f"date features from {col}: {', '.join(parts)}")
    for note in result.notes:
        warn(note)
    ok(f"wrote {result.manifest}, {result.reports['html']} and {result.reports['md']} in {result.seconds:.1f}s")


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare)
