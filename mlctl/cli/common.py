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


def user_path(value: str | Path | None) -> str | None:
    """A path typed on the command line, as an absolute path: relative to the current directory, ``~`` expanded.

    Params defaults stay relative to the project root; what a person types means what their shell
    means, wherever the project is (``-C DIR``) and even outside it.
    """
    if value is None or str(value) == "":
        return None
    return str(Path(value).expanduser().resolve())


def load(project_dir: Path | None) -> tuple[Project, Params]:
    """Find the project and load its params.yaml once, validated."""
    from mlctl.params import load_params
    from mlctl.project import Project

    project = Project.discover(project_dir)
    return project, load_params(project.params_path)
