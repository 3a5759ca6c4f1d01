"""A tiny progress protocol so library code can report work without printing."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """What a stage calls to report long work; the CLI passes a rich implementation."""

    def start(self, description: str, total: float | None = None) -> None: ...

    def advance(self, amount: float = 1) -> None: ...

    def done(self) -> None: ...


class NoProgress:
    """The default: report nothing (library use, tests)."""

    def start(self, description: str, total: float | None = None) -> None:
        pass

    def advance(self, amount: float = 1) -> None:
        pass

    def done(self) -> None:
        pass
