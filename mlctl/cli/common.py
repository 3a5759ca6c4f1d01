"""Options and config loading shared by the commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, get_origin

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from mlctl.core.project import Project
    from mlctl.params import Params

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
    from mlctl.core.project import Project
    from mlctl.params import load_params

    project = Project.discover(project_dir)
    return project, load_params(project.params_path)


class _CoerceGiven:
    """typer's coercion of a parameter, built only when a value was given.

    typer 0.29 builds a pydantic TypeAdapter for every parameter it processes, even an absent one
    (None: `--help` not given, `-C` not given), so importing pydantic came first in every `mlctl <command>`
    (~60 ms of `mlctl train --help`, and before `mlctl run` could start DVC). An absent value becomes
    what typer makes of it (None, or () for a repeatable one) without that adapter.
    """

    def coerce(self, value: Any, param: Any, ctx: typer.Context) -> Any:
        repeatable = param.multiple or param.nargs == -1
        if value is None:
            return () if repeatable else None
        if value == () and repeatable and get_origin(getattr(param.type_descriptor, "annotation", None)) is list:
            return []  # as typer's list adapter makes of no values
        param._runtime_param = None  # typer's own, from now on
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


def _skip_absent(command: TyperCommand | TyperGroup, ctx: typer.Context) -> None:
    for param in command.get_params(ctx):
        if getattr(param, "_runtime_param", False) is None:  # typer versions without it keep their own way
            param._runtime_param = _CoerceGiven()


class Group(TyperGroup):
    """A command group that coerces only the parameters given (see _CoerceGiven)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        _skip_absent(self, ctx)
        return super().parse_args(ctx, args)


class Command(TyperCommand):
    """A command that coerces only the parameters given (see _CoerceGiven)."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        _skip_absent(self, ctx)
        return super().parse_args(ctx, args)


def coerce_given_only(app: typer.Typer) -> None:
    """Give `app`'s commands and groups, and theirs, the Command and Group classes above."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):  # not one a command chose itself
            info.cls = Command
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            if not isinstance(sub.info.cls, type) or sub.info.cls is TyperGroup:
                sub.info.cls = Group
            coerce_given_only(sub)
