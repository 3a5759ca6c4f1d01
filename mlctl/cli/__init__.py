"""The `mlctl` command line: parse, load config, call one library function, print.

Heavy libraries (pandas, scikit-learn, DVC...) are imported inside the
commands that need them, so `mlctl --help` starts fast. Errors from the
library are turned into exit codes in one place: ``mlctl.cli.handler``.
"""

from __future__ import annotations

import importlib

import typer

from mlctl import __version__
from mlctl.core.catalog import STAGES

app = typer.Typer(
    name="mlctl",
    help="Run an ML project as a versioned, tested system: collect → validate → prepare → train → "
    "evaluate → gate → export → serve / predict / bundle → monitor → retrain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: typer.rich_utils alone costs ~0.2 s of start-up
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each module registers its commands on `app`; one module per command or group. The stages' commands come
# from the stage registry (mlctl.core.catalog), the others are listed here.
COMMAND_MODULES = [
    "init",  # init: a new project from a data file
    "pipeline",  # run, params
    *(stage.name for stage in STAGES),  # validate also registers `schema infer`; train also `exp`, `explain`
    "smoke",
    "registry",
    "remote",
    "score",  # score: the ML Test Score of the project
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    from mlctl.cli import handler as errors

    errors.DEBUG = debug


for _name in COMMAND_MODULES:
    importlib.import_module(f"mlctl.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv, prog_name="mlctl")
