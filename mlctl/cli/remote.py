"""`mlctl remote add|list`: where DVC pushes data and models."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt
from mlctl.cli.handler import handled

remote_app = typer.Typer(help="Configure DVC remotes (local directory or S3-compatible).", no_args_is_help=True)


@remote_app.command("add")
@handled
def add(
    name: str = typer.Argument(..., help="Remote name."),
    url: str = typer.Argument(..., help="s3://bucket/prefix or a local directory."),
    default: bool = typer.Option(False, "--default", "-d", help="Make it the default remote."),
    endpoint_url: str = typer.Option(None, "--endpoint-url", help="S3-compatible endpoint (MinIO, Ceph...)."),
    region: str = typer.Option(None, "--region"),
    profile: str = typer.Option(None, "--profile", help="AWS profile holding the credentials."),
    project_dir: Path = ProjectOpt,
) -> None:
    """Add a DVC remote; credentials stay in the environment or an AWS profile, never in git."""
    from mlctl.cli.output import ok
    from mlctl.core.project import Project
    from mlctl.repo.remote import add as do_add

    root = Project.discover(project_dir).root
    remote = do_add(root, name, url, default=default, endpoint_url=endpoint_url, region=region, profile=profile)
    ok(f"remote {remote.name} → {remote.url}" + (" (default)" if remote.default else ""))


@remote_app.command("list")
@handled
def list_(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """List the configured DVC remotes."""
    from mlctl.cli.output import out, print_json, table
    from mlctl.core.project import Project
    from mlctl.repo.remote import list_remotes

    remotes = list_remotes(Project.discover(project_dir).root)
    if as_json:
        print_json([r.__dict__ for r in remotes])
    else:
        out.print(
            table("remotes", ["name", "url", "default"], [[r.name, r.url, "yes" if r.default else ""] for r in remotes])
        )


def register(app: typer.Typer) -> None:
    app.add_typer(remote_app, name="remote")
