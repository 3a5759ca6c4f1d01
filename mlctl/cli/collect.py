"""`mlctl collect`: gather the configured sources into data/raw/."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load
from mlctl.cli.errors import handled


@handled
def collect(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Read the sources in params.yaml `collect:` into data/raw/data.parquet + manifest.json."""
    from mlctl.cli.output import RichProgress, ok, out, print_json, table, warn
    from mlctl.stages.collect import run

    project, params = load(project_dir)
    if as_json:
        result = run(params.collect, params.common, project)
        print_json(result.to_dict())
        return
    with RichProgress() as bar:
        result = run(params.collect, params.common, project, progress=bar)
    rows = [
        [s["name"], s["kind"], s["location"], s["rows"], s["columns"], s["fingerprint"][:12]] for s in result.sources
    ]
    out.print(table("sources", ["source", "kind", "location", "rows", "columns", "fingerprint"], rows))
    for message in result.warnings:
        warn(message)
    if result.unchanged:
        ok(f"unchanged: the sources hold the same {result.rows:,} rows (hash {result.hash[:12]}); {result.output} kept")
        return
    ok(
        f"collected {result.rows:,} rows × {result.columns} columns into {result.output} "
        f"(hash {result.hash[:12]}, manifest {result.manifest}) in {result.seconds:.1f}s"
    )


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)
