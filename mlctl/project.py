"""Locate the project root and keep user-given paths inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlctl.errors import ConfigError, InputNotFoundError

PARAMS_FILE = "params.yaml"


def find_root(start: str | Path | None = None) -> Path:
    """Return the nearest directory at or above ``start`` that holds params.yaml."""
    env = os.environ.get("MLCTL_PROJECT")
    here = Path(env or start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PARAMS_FILE).is_file():
            return candidate
    raise InputNotFoundError(
        f"no {PARAMS_FILE} found in {here} or any parent directory",
        hint="run mlctl inside an mlctl project, or create one with `mlctl init DIR --data FILE --target COLUMN`",
    )


@dataclass(frozen=True)
class Project:
    """A project directory: every relative path in params.yaml is relative to ``root``."""

    root: Path

    @classmethod
    def discover(cls, start: str | Path | None = None) -> Project:
        """Find the project that contains ``start`` (default: the working directory)."""
        return cls(find_root(start))

    @property
    def params_path(self) -> Path:
        return self.root / PARAMS_FILE

    def path(self, value: str | Path, *, what: str = "path") -> Path:
        """Resolve ``value`` (from params.yaml or the command line) against the root; ``~`` is expanded.

        Paths a person wrote are theirs to choose: absolute paths and paths outside the project
        are allowed. Paths that come from untrusted input go through :meth:`inside` instead.
        """
        return (self.root / Path(value).expanduser()).resolve()

    def inside(self, value: str | Path, *, what: str = "path") -> Path:
        """Resolve ``value`` against the root and refuse anything that escapes it.

        For paths from untrusted input (HTTP requests, archive members, manifests inside bundles or
        registry entries): ``..``, absolute paths and symlinks out of the project are refused.
        """
        resolved = (self.root / value).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ConfigError(
                f"{what} {str(value)!r} resolves outside the project ({resolved})",
                hint=f"use a {what} inside the project directory {self.root}",
            )
        return resolved

    def rel(self, path: str | Path) -> str:
        """Return ``path`` relative to the root (for messages and manifests)."""
        try:
            return str(Path(path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)
