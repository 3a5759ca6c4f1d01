"""Console output shared by the commands: results to stdout, messages to stderr."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table


class _Console(Console):
    """A Console that honours $COLUMNS when it changes (rich reads it only once, at creation)."""

    @property
    def size(self):
        dims = Console.size.fget(self)
        cols = os.environ.get("COLUMNS", "")
        return dims._replace(width=int(cols)) if cols.isdigit() else dims

    @size.setter
    def size(self, value) -> None:
        Console.size.fset(self, value)


out = _Console(highlight=False, soft_wrap=True)
err = _Console(stderr=True, highlight=False, soft_wrap=True)  # messages stay greppable: no hard wraps


def print_json(data: Any) -> None:
    """Print machine-readable JSON to stdout (for --json)."""
    from mlctl.core.fileio import dumps_json

    sys.stdout.write(dumps_json(data))


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    """Build a rich table from plain rows."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*[_cell(v) for v in row])
    return t


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


def ok(message: str) -> None:
    out.print(f"[green]✓[/green] {message}")


def warn(message: str) -> None:
    err.print(f"[yellow]![/yellow] {message}")


class RichProgress:
    """mlctl.core.progress.Progress drawn as a rich progress bar on stderr, from the first task on.

    Nothing is drawn (nor rich.progress imported, nor its refresh thread started) before the first
    `start`: a no-op `mlctl run` reports no work and shows no bars.
    """

    def __init__(self, console: Console = err):
        self._console = console
        self._bar: Any = None
        self._task = None

    def _started(self) -> Any:
        if self._bar is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self._console,
                transient=False,
            )
            self._bar.start()
        return self._bar

    def start(self, description: str, total: float | None = None) -> None:
        if self._task is not None:
            self.done()
        self._task = self._started().add_task(description, total=total, rate="")

    def advance(self, amount: float = 1) -> None:
        if self._task is None:
            return
        self._bar.advance(self._task, amount)
        task = self._bar.tasks[-1]
        if task.speed:
            self._bar.update(self._task, rate=f"{task.speed:,.0f}/s")

    def done(self) -> None:
        if self._task is not None:
            task = self._bar.tasks[-1]
            self._bar.update(self._task, total=task.completed or 1, completed=task.completed or 1)
            self._task = None

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def progress():
    """A RichProgress that is started and stopped around a block."""
    with RichProgress() as p:
        yield p
