"""Options and config loading shared by the commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mlctl.params import Params
    from mlctl.project import Project

ProjectOpt = typer.Option(
    None,
    "--project",
    "-C",
    help="Project directory (default: the nearest directory with params.yaml).",
    envvar="MLCTL_PROJECT",
    show_envvar=False,
)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")


def user_path(value: str | Path | None, project_dir: Path | None = None) -> str | None:
    """A path typed on the command line, made absolute; ``~`` is expanded; it may be outside the project.

    A relative path is relative to ``-C DIR`` when given (as with `git -C` and `make -C`: as if
    started there), else to the current directory: what the person's shell means, not params.yaml's
    project-root convention.
    """
    if value is None or str(value) == "":
        return None
    base = Path(project_dir).expanduser() if project_dir else Path.cwd()
    return str((base / Path(value).expanduser()).resolve())


def load(project_dir: Path | None) -> tuple[Project, Params]:
    """Find the project and load its params.yaml once, validated."""
    from mlctl.params import load_params
    from mlctl.project import Project

    project = Project.discover(project_dir)
    return project, load_params(project.params_path)
