"""The typer application: the root group, its options, and the commands registered on it."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

import typer

from mlctl import __version__
from mlctl.cli.commands import COMMAND_MODULES, COMMANDS, HELP
from mlctl.cli.common import Group, coerce_given_only


class Root(Group):
    """The root group: lists the commands from their declared summaries, so `mlctl --help` imports none."""

    def format_commands(self, ctx: typer.Context, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlctl {__version__}")
        raise typer.Exit()


def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    from mlctl.cli import handler as errors

    errors.DEBUG = debug


def build(modules: Iterable[str] | None = None) -> typer.Typer:
    """The command line with the commands of `modules` (names in COMMAND_MODULES; all when None)."""
    cli = typer.Typer(
        name="mlctl",
        help=HELP,
        cls=Root,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help: typer.rich_utils alone costs ~0.2 s of start-up
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    cli.callback()(_root)
    for name in COMMAND_MODULES if modules is None else modules:
        importlib.import_module(f"mlctl.cli.{name}").register(cli)
    for info in (*cli.registered_commands, *cli.registered_groups):
        info.short_help = COMMANDS[info.name][1]  # the listing `mlctl --help` shows, declared once above
    coerce_given_only(cli)
    return cli
