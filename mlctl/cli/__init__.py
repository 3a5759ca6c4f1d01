"""The `mlctl` command line: parse, load config, call one library function, print.

Start-up is part of the interface: `mlctl <command> ...` imports only the module
that registers that command, and heavy libraries (pandas, scikit-learn, DVC...)
are imported inside the commands that need them. Errors from the library are
turned into exit codes in one place: ``mlctl.cli.handler``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from typing import Any

import typer

from mlctl import __version__
from mlctl.cli.common import Group, coerce_given_only
from mlctl.core.catalog import STAGES

HELP = (
    "Run an ML project as a versioned, tested system: collect → validate → prepare → train → "
    "evaluate → gate → export → serve / predict / bundle → monitor → retrain."
)

# Top-level command → (the module of mlctl/cli whose `register(app)` adds it, its one-line summary). A stage's
# command is registered by the module of the same name, with the stage's summary (mlctl.core.catalog).
# tests/test_cli_startup.py checks that each module registers exactly the names listed for it.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "create a project from a data file: git, DVC, params, CI/CD/CT"),
    "run": ("pipeline", "run the pipeline through `dvc repro`, showing each stage"),
    "params": ("pipeline", "check, show or sync (into dvc.yaml) the effective params.yaml"),
    **{stage.name: (stage.name, stage.summary) for stage in STAGES},
    "schema": ("validate", "write the data contract (pandera schema + reference profile)"),
    "exp": ("train", "run and compare DVC experiments (params sweeps)"),
    "explain": ("export", "show one example's way through the fitted pipeline"),
    "smoke": ("smoke", "check a running service: readiness, metadata, one real prediction"),
    "registry": ("registry", "register, promote and roll back model versions"),
    "remote": ("remote", "configure DVC remotes (local directory or S3-compatible)"),
    "score": ("score", "the project's ML Test Score: 28 tests, automated, manual or missing"),
}
COMMAND_MODULES = list(dict.fromkeys(module for module, _ in COMMANDS.values()))


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


def command_name(argv: list[str]) -> str | None:
    """The command `argv` asks for: its first word that is not an option (the root's options take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def __getattr__(name: str) -> typer.Typer:
    # `from mlctl.cli import app`: the whole command line, built on first use (tests, docs generation)
    if name == "app":
        globals()["app"] = full = build()
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: registers only the command asked for.

    None for the root's help and version (Root lists the commands without them); all of them for shell
    completion and for a name that is not a command (click's error then lists the real ones).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    name = command_name(args)
    if name in COMMANDS:
        modules = [COMMANDS[name][0]]
    elif name is None and "_MLCTL_COMPLETE" not in os.environ:
        modules = []
    else:
        modules = None
    build(modules)(args=args, prog_name="mlctl")
