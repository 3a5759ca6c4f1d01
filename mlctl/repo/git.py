"""The one way mlctl runs git: an argument list, a timeout, and errors that say what failed, where and what to do."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlctl.core.errors import ExternalError, InputNotFoundError

TIMEOUT = 60  # seconds; local git commands take milliseconds, a push or fetch may take longer


def run(
    root: str | Path,
    *args: str,
    check: bool = True,
    text: bool = True,
    timeout: float = TIMEOUT,
    purpose: str | None = None,
) -> subprocess.CompletedProcess:
    """Run `git *args` in ``root``; with ``check`` a failure raises, naming the command and git's last line."""
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=text, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ExternalError("git is not installed", hint="install git and make sure it is on PATH") from None
    except subprocess.TimeoutExpired:
        raise ExternalError(f"`git {args[0]}` took longer than {timeout:g}s", where=str(root)) from None
    if check and proc.returncode != 0:
        stderr = proc.stderr if text else proc.stderr.decode(errors="replace")
        if "not a git repository" in stderr:
            raise InputNotFoundError(
                f"{root} is not a git repository" + (f": {purpose}" if purpose else ""),
                hint="run inside the project's git repository (`git init`, or `mlctl init`)",
            )
        lines = (stderr or (proc.stdout if text else "")).strip().splitlines()
        raise ExternalError(
            f"`git {' '.join(args[:2])}` failed: {lines[-1] if lines else f'exit {proc.returncode}'}", where=str(root)
        )
    return proc


def output(root: str | Path, *args: str, purpose: str | None = None) -> str:
    """The standard output of a git command that must succeed."""
    return run(root, *args, purpose=purpose).stdout


def commit_of(root: str | Path, ref: str) -> str | None:
    """The commit ``ref`` names, or None when it names none (or git is missing)."""
    try:
        done = run(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    except ExternalError:
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def head_commit(root: str | Path) -> str | None:
    """HEAD's commit of the repository holding ``root``, or None outside git."""
    return commit_of(root, "HEAD")
