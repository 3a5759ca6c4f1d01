"""`mlctl run` and `mlctl params check|show|sync`."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt, load
from mlctl.cli.handler import handled

params_app = typer.Typer(help="Check, show or sync (into dvc.yaml) the effective params.yaml.", no_args_is_help=True)


@params_app.command("check")
@handled
def params_check(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Validate params.yaml without running anything."""
    from mlctl.cli.output import ok, print_json
    from mlctl.core.errors import ConfigError
    from mlctl.repo.dvcfile import stale_stages

    project, params = load(project_dir)
    stale = stale_stages(project.root, params)
    if stale:
        raise ConfigError(
            f"dvc.yaml does not match the paths in params.yaml (stages: {', '.join(stale)})",
            where="dvc.yaml",
            hint="run `mlctl params sync` to regenerate dvc.yaml from params.yaml",
        )
    if as_json:
        print_json({"valid": True, "path": str(project.params_path)})
    else:
        ok(f"{project.rel(project.params_path)} is valid ({len(params.to_dict())} keys) and dvc.yaml is current")


@params_app.command("sync")
@handled
def params_sync(project_dir: Path = ProjectOpt) -> None:
    """Regenerate dvc.yaml from params.yaml, so paths moved in params.yaml move in the pipeline too."""
    from mlctl.cli.output import ok
    from mlctl.repo.dvcfile import write

    project, params = load(project_dir)
    ok(f"wrote {project.rel(write(project.root, params))}")


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
    from mlctl.cli import take_early_run
    from mlctl.core.project import Project
    from mlctl.repo.pipeline import start_pipeline

    project = Project.discover(project_dir)
    early = take_early_run(project.root, stages or [], force)  # started by mlctl.cli.main before typer loaded
    repro = start_pipeline(project, stages or [], force=force, repro=early)
    # DVC takes over a second to start: params.yaml is validated meanwhile (unless it, dvc.yaml and mlctl are
    # unchanged since it last passed), and DVC is stopped if it is wrong
    from mlctl.cli.output import RichProgress, ok, out, table, warn
    from mlctl.repo.dvcfile import check_key, checked_before, remember_check

    key = check_key(project.root)  # before the check: an edit made meanwhile is checked next time
    if not checked_before(project.root, key):
        from mlctl.params import load_params
        from mlctl.repo.dvcfile import stale_stages

        try:
            stale = stale_stages(project.root, load_params(project.params_path))
        except BaseException:
            repro.stop()
            raise
        if stale:
            warn(f"dvc.yaml does not match params.yaml for {', '.join(stale)}: run `mlctl params sync`")
        else:
            remember_check(project.root, key)
    with RichProgress() as bar:
        result = repro.follow(bar)
    rows = [[s.name, s.status, f"{s.seconds:.1f}s"] for s in result.stages]
    out.print(table("pipeline", ["stage", "outcome", "time"], rows))
    ok(f"pipeline finished in {result.seconds:.1f}s ({result.ran} ran, {result.skipped} up to date)")


def register(app: typer.Typer) -> None:
    app.add_typer(params_app, name="params")
    app.command("run")(run)
