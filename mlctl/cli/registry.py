"""`mlctl registry register|promote|rollback|show|history`: a model registry on git tags."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt
from mlctl.cli.handler import handled

registry_app = typer.Typer(
    help="Register, promote and roll back model versions (git tags, GTO conventions).", no_args_is_help=True
)
PushOpt = typer.Option(False, "--push", help="Push the new tag to origin (CI/CD acts on pushed tags).")


def _root(project_dir: Path | None) -> Path:
    from mlctl.core.project import Project

    return Project.discover(project_dir).root


def _push(root: Path, tag: str) -> None:
    from mlctl.repo.registry import push_tag

    push_tag(root, tag)


@registry_app.command("register")
@handled
def register_version(
    name: str = typer.Argument(..., help="Model name, e.g. `churn`."),
    ref: str = typer.Argument("HEAD", help="Commit holding the model."),
    version: str = typer.Option(None, "--version", help="Explicit version (default: bump the latest)."),
    bump: str = typer.Option("minor", "--bump", help="major, minor or patch."),
    push: bool = PushOpt,
    project_dir: Path = ProjectOpt,
) -> None:
    """Register the model at REF as a new version: tag `name@vX.Y.Z`."""
    from mlctl.cli.output import ok
    from mlctl.repo.registry import register as do_register

    root = _root(project_dir)
    v = do_register(root, name, ref, version=version, bump=bump)
    if push:
        _push(root, v.tag)
    ok(f"registered {v.tag} at {v.commit[:8]}")


@registry_app.command("promote")
@handled
def promote(
    name: str = typer.Argument(...),
    version: str = typer.Argument(..., help="vX.Y.Z or latest."),
    stage: str = typer.Argument(..., help="Stage, e.g. staging or prod."),
    push: bool = PushOpt,
    project_dir: Path = ProjectOpt,
) -> None:
    """Assign STAGE to a version (tag `name#stage#N`); refused unless its gate passed."""
    from mlctl.cli.output import ok
    from mlctl.repo.registry import promote as do_promote

    root = _root(project_dir)
    a = do_promote(root, name, version, stage)
    if push:
        _push(root, a.tag)
    ok(f"{name} v{a.version} is now in {stage} ({a.tag})")


@registry_app.command("rollback")
@handled
def rollback(
    name: str = typer.Argument(...),
    stage: str = typer.Argument(...),
    push: bool = PushOpt,
    project_dir: Path = ProjectOpt,
) -> None:
    """Re-assign STAGE to the version it had before the current one."""
    from mlctl.cli.output import ok
    from mlctl.repo.registry import rollback as do_rollback

    root = _root(project_dir)
    a = do_rollback(root, name, stage)
    if push:
        _push(root, a.tag)
    ok(f"{name} {stage} rolled back to v{a.version} ({a.tag})")


@registry_app.command("show")
@handled
def show(name: str = typer.Argument(...), project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """Show the versions of a model and the stage each version is in."""
    from mlctl.cli.output import out, print_json, table
    from mlctl.repo.registry import current_stages, versions

    root = _root(project_dir)
    stages = current_stages(root, name)
    rows = []
    for v in versions(root, name):
        in_stages = sorted(s for s, a in stages.items() if a.version == v.version)
        rows.append({"version": f"v{v.version}", "commit": v.commit[:8], "stages": in_stages, "created": v.created})
    if as_json:
        print_json({"name": name, "versions": rows})
    else:
        out.print(
            table(
                f"model {name}",
                ["version", "commit", "stages", "created"],
                [[r["version"], r["commit"], ", ".join(r["stages"]), r["created"]] for r in rows],
            )
        )


@registry_app.command("history")
@handled
def history(name: str = typer.Argument(...), project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """List every registration, promotion and rollback of a model, oldest first."""
    from mlctl.cli.output import out, print_json, table
    from mlctl.repo.registry import history as do_history

    events = do_history(_root(project_dir), name)
    if as_json:
        print_json(events)
    else:
        rows = [[e["created"], e["event"], e["tag"], e.get("version"), e["message"]] for e in events]
        out.print(table(f"history of {name}", ["when", "event", "tag", "version", "message"], rows))


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
