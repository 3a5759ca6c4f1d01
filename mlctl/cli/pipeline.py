"""`mlctl run` and `mlctl params check|show`."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load
from mlctl.cli.handler import handled

params_app = typer.Typer(help="Check or show the effective params.yaml.", no_args_is_help=True)


@params_app.command("check")
@handled
def params_check(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Validate params.yaml without running anything."""
    from mlctl.cli.output import ok, print_json

    project, params = load(project_dir)
    if as_json:
        print_json({"valid": True, "path": str(project.params_path)})
    else:
        ok(f"{project.rel(project.params_path)} is valid ({len(params.to_dict())} keys)")


@params_app.command("show")
@handled
def params_show(
    stage: str = typer.Argument(None, help="Show only this stage's section."),
    project_dir: Path = ProjectOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Print the effective config: params.yaml with every default filled in."""
    import yaml

    from mlctl.cli.output import out, print_json

    _, params = load(project_dir)
    data = params.to_dict()
    if stage:
        section = params.section(stage)
        data = {**params.common.model_dump(mode="json"), stage: section.model_dump(mode="json", by_alias=True)}
    if as_json:
        print_json(data)
    else:
        out.print(yaml.safe_dump(data, sort_keys=False).rstrip(), markup=False)


@handled
def run(
    stages: list[str] = typer.Argument(None, help="Run only up to these stages (default: all)."),
    force: bool = typer.Option(False, "--force", "-f", help="Re-run stages even if nothing changed."),
    project_dir: Path = ProjectOpt,
) -> None:
    """Run the pipeline through `dvc repro`, showing each stage's progress and outcome."""
    from mlctl.cli.output import RichProgress, ok, out, table
    from mlctl.repo.pipeline import run_pipeline

    project, _ = load(project_dir)
    with RichProgress() as bar:
        result = run_pipeline(project, stages or [], force=force, progress=bar)
    rows = [[s.name, s.status, f"{s.seconds:.1f}s"] for s in result.stages]
    out.print(table("pipeline", ["stage", "outcome", "time"], rows))
    ok(f"pipeline finished in {result.seconds:.1f}s ({result.ran} ran, {result.skipped} up to date)")


def register(app: typer.Typer) -> None:
    app.add_typer(params_app, name="params")
    app.command("run")(run)
