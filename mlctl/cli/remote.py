"""`mlctl remote add|list|check|push|pull`: where DVC pushes data and models, and moving them."""

from __future__ import annotations

from pathlib import Path

import typer

from mlctl.cli.common import JsonOpt, ProjectOpt
from mlctl.cli.errors import handled

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
    from mlctl.project import Project
    from mlctl.remote import add as do_add

    root = Project.discover(project_dir).root
    remote = do_add(root, name, url, default=default, endpoint_url=endpoint_url, region=region, profile=profile)
    ok(f"remote {remote.name} → {remote.url}" + (" (default)" if remote.default else ""))


@remote_app.command("list")
@handled
def list_(project_dir: Path = ProjectOpt, as_json: bool = JsonOpt) -> None:
    """List the configured DVC remotes."""
    from mlctl.cli.output import out, print_json, table
    from mlctl.project import Project
    from mlctl.remote import list_remotes

    remotes = list_remotes(Project.discover(project_dir).root)
    if as_json:
        print_json([r.__dict__ for r in remotes])
    else:
        out.print(
            table("remotes", ["name", "url", "default"], [[r.name, r.url, "yes" if r.default else ""] for r in remotes])
        )


def _sync(action: str, remote: str | None, project_dir: Path | None, as_json: bool, timeout: float) -> None:
    from mlctl.cli.output import ok, out, print_json
    from mlctl.project import Project
    from mlctl.remote_sync import sync

    result = sync(Project.discover(project_dir).root, action, remote=remote, timeout=timeout)
    if as_json:
        print_json(result.to_dict())
        return
    if result.output:
        out.print(result.output, highlight=False, markup=False)
    source = " (from DVC_REMOTE_URL)" if result.from_env else ""
    ok(f"{action}: remote {result.remote} → {result.url}{source} ({result.seconds:.1f}s)")


RemoteNameOpt = typer.Option(None, "--remote", "-r", help="Remote name (default: DVC_REMOTE_URL's, else the default).")
TimeoutOpt = typer.Option(600.0, "--timeout", help="Seconds before giving up.")


@remote_app.command("check")
@handled
def check(
    remote: str = RemoteNameOpt, timeout: float = TimeoutOpt, project_dir: Path = ProjectOpt, as_json: bool = JsonOpt
) -> None:
    """Check that the remote is configured, has credentials and answers (`dvc status --cloud`)."""
    _sync("check", remote, project_dir, as_json, timeout)


@remote_app.command("push")
@handled
def push(
    remote: str = RemoteNameOpt, timeout: float = TimeoutOpt, project_dir: Path = ProjectOpt, as_json: bool = JsonOpt
) -> None:
    """Push data and models to the remote (`dvc push`); DVC_REMOTE_URL from the environment takes precedence."""
    _sync("push", remote, project_dir, as_json, timeout)


@remote_app.command("pull")
@handled
def pull(
    remote: str = RemoteNameOpt, timeout: float = TimeoutOpt, project_dir: Path = ProjectOpt, as_json: bool = JsonOpt
) -> None:
    """Pull data and models from the remote (`dvc pull`), e.g. on a fresh CI runner before anything reads data."""
    _sync("pull", remote, project_dir, as_json, timeout)


def register(app: typer.Typer) -> None:
    app.add_typer(remote_app, name="remote")
