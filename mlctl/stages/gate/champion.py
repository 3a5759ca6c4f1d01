"""The champion's metrics: metrics/evaluate.json as committed at a git revision.

Anything that makes the champion unreadable (no git, not a repository, an
unknown revision, no metrics file there yet) is a reason to skip the champion
rule, not to fail the gate: the first model of a project has no champion.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlctl.core.errors import ConfigError, ExternalError
from mlctl.repo import git


@dataclass(frozen=True)
class Champion:
    """The champion's model metrics, or why there are none."""

    ref: str
    metrics: dict[str, Any] | None
    reason: str | None = None
    commit: str | None = None


def load_champion(root: Path, ref: str, metrics_file: Path) -> Champion:
    """Read ``metrics_file`` (a path inside ``root``) as it is at git revision ``ref``."""
    if "@" in ref and "@{" not in ref and ref != "@":  # "HEAD@{1}" and "@" are git; "model@prod" is not
        return Champion(ref, None, "registry references (name@stage) are not supported yet")
    if ref.startswith("-"):
        raise ConfigError(f"champion ref {ref!r} is not a git revision", where="params.yaml: gate.champion.ref")
    found = _git_or_none(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found is None:
        return Champion(ref, None, "git is not available")
    if found.returncode != 0:
        inside = _git_or_none(root, "rev-parse", "--is-inside-work-tree")
        if inside is None or inside.returncode != 0:
            return Champion(ref, None, f"{root} is not a git repository")
        return Champion(ref, None, f"revision {ref!r} does not exist")
    commit = found.stdout.strip()
    relative = metrics_file.resolve().relative_to(root.resolve()).as_posix()
    # "./path" is resolved against cwd by git, so a project in a repository's subfolder works
    shown = _git_or_none(root, "show", f"{commit}:./{relative}")
    if shown is None or shown.returncode != 0:
        return Champion(ref, None, f"{relative} does not exist at {ref} ({commit[:8]})", commit)
    try:
        data = json.loads(shown.stdout)
    except json.JSONDecodeError as exc:
        return Champion(ref, None, f"{relative} at {ref} is not valid JSON ({exc})", commit)
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict):
        return Champion(ref, None, f"{relative} at {ref} has no 'model' metrics", commit)
    return Champion(ref, model, None, commit)


def _git_or_none(root: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """A git command whose failure is a reason to skip the champion rule (None: git missing or too slow)."""
    try:
        return git.run(root, *args, check=False)
    except ExternalError:
        return None
