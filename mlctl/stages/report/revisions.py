"""The base revision and files as they are at it (git show), read without touching the work tree."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlctl.core.errors import ConfigError, ExternalError, InputNotFoundError
from mlctl.repo import git

DEFAULT_BASES = ("origin/main", "main", "HEAD~1")


@dataclass(frozen=True)
class Base:
    """The revision this one is compared with."""

    ref: str  # as given or chosen (origin/main, main, HEAD~1, a sha...)
    commit: str  # full sha
    root: Path  # the project directory (may be a subfolder of the repository)
    head: str | None = None  # sha of HEAD, for the report's title

    @property
    def short(self) -> str:
        return self.commit[:8]

    def show(self, path: str) -> bytes | None:
        """The bytes of ``path`` (relative to the project) at the base, or None if it is not there."""
        # "./path" is resolved by git against cwd, so a project in a repository's subfolder works
        done = git.run(self.root, "show", f"{self.commit}:./{path}", text=False, check=False)
        return done.stdout if done.returncode == 0 else None

    def show_text(self, path: str) -> str | None:
        data = self.show(path)
        return None if data is None else data.decode("utf-8", errors="replace")

    def show_json(self, path: str) -> Any:
        """Parsed JSON of ``path`` at the base, or None if it is missing or not JSON."""
        text = self.show_text(path)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return None


def _commit_of(root: Path, ref: str) -> str | None:
    done = git.run(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def resolve_base(root: Path, ref: str | None = None) -> Base:
    """The given revision, else the first of origin/main, main, HEAD~1 that exists."""
    inside = git.run(root, "rev-parse", "--is-inside-work-tree", check=False)
    if inside.returncode != 0:
        raise ExternalError(
            f"{root} is not inside a git repository",
            hint="the report compares this revision with a base revision: run it in a git checkout",
        )
    head = _commit_of(root, "HEAD")
    if ref is not None:
        if not ref or ref.startswith("-"):
            raise ConfigError(f"base {ref!r} is not a git revision", where="--base")
        commit = _commit_of(root, ref)
        if commit is None:
            raise InputNotFoundError(
                f"git revision {ref!r} does not exist",
                where="--base",
                hint="fetch it first (in CI: `git fetch origin main`), or pass a branch, tag or sha",
            )
        return Base(ref, commit, root, head)
    for candidate in DEFAULT_BASES:
        commit = _commit_of(root, candidate)
        if commit is not None:
            return Base(candidate, commit, root, head)
    raise InputNotFoundError(
        "no base revision: none of origin/main, main or HEAD~1 exists",
        hint="pass --base REV (in CI: `git fetch origin main` first; a shallow clone needs fetch-depth: 0 or 2)",
    )


def rel(root: Path, path: Path) -> str:
    """``path`` relative to the project root, with forward slashes (git's spelling)."""
    return path.resolve().relative_to(root.resolve()).as_posix()
