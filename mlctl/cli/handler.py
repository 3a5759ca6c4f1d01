"""The one place where errors become messages and exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from mlctl.core.errors import EXIT_INTERNAL, MlctlError

DEBUG = False  # set by the global --debug option


def report(exc: BaseException, *, as_json: bool = False) -> int:
    """Print ``exc`` for a person (or as JSON) and return its exit code."""
    from mlctl.cli.output import err, print_json

    if DEBUG:
        err.print_exception(show_locals=False)
    if isinstance(exc, MlctlError):
        if as_json:
            print_json(exc.to_dict())
        err.print(f"[bold red]{exc.title}:[/bold red] {exc}", markup=True, highlight=False)
        return exc.exit_code
    if as_json:
        print_json({"error": type(exc).__name__, "exit_code": EXIT_INTERNAL, "message": str(exc)})
    err.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc}", highlight=False)
    if not DEBUG:
        err.print("This is a bug in mlctl or a library: rerun with --debug for the traceback and report it.")
    return EXIT_INTERNAL


def handled(fn: Callable[..., Any] | None = None, *, show: Callable[[dict], None] | None = None) -> Any:
    """Wrap a command so MlctlError (and any crash) exits with its documented code.

    An error that carries a report (a rejected gate, failed validation, detected drift) has the report
    printed first: as the one JSON document on stdout with ``--json``, else by ``show``.
    """
    if fn is None:
        return functools.partial(handled, show=show)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # the one place errors become exit codes
            if type(exc).__module__.startswith("click"):
                raise  # usage errors: typer/click print them and exit 2
            carried = getattr(exc, "report", None)
            if isinstance(exc, MlctlError) and isinstance(carried, dict) and carried:
                if as_json:
                    from mlctl.cli.output import print_json

                    print_json(carried)
                    as_json = False  # the report is the one JSON document; the message goes to stderr
                elif show is not None:
                    show(carried)
            raise typer.Exit(report(exc, as_json=as_json)) from None

    return wrapper
