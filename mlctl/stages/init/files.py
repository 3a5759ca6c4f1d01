"""The files of a new project (from mlctl/templates/) and its git + DVC set-up."""

from __future__ import annotations

import os
import re
import subprocess
from importlib import resources
from pathlib import Path
from string import Template

from mlctl.core.errors import ExternalError
from mlctl.repo import git as gitcmd

FALLBACK_IDENTITY = ("mlctl init", "mlctl-init@localhost")  # only when git has no user configured
DVC_CONFIG = """[core]
    remote = local
    autostage = true
['remote "local"']
    url = ../.dvcstore
"""


def template_root():
    """The packaged templates directory (works from a checkout and from an installed wheel)."""
    return resources.files("mlctl") / "templates"


def template_text(*parts: str) -> str:
    node = template_root()
    for part in parts:
        node = node / part
    return node.read_text(encoding="utf-8")


def workflow_templates() -> dict[str, str]:
    """GitHub workflow file name → text, as shipped in mlctl/templates/workflows/."""
    folder = template_root() / "workflows"
    return {
        f.name: f.read_text(encoding="utf-8")
        for f in sorted(folder.iterdir(), key=lambda f: f.name)
        if f.name.endswith((".yml", ".yaml"))
    }


def render(text: str, **values: object) -> str:
    """Fill ``${name}`` placeholders; a missing value is an error, not a silent blank."""
    return Template(text).substitute({k: str(v) for k, v in values.items()})


def package_name(name: str) -> str:
    """A valid Python distribution name from a directory name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")
    return cleaned.lower() or "ml-project"


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except OSError as exc:
        raise ExternalError(f"cannot run {cmd[0]}: {exc}", hint=f"install {what} and make sure it is on PATH") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ExternalError(
            f"`{what} {' '.join(cmd[1:3])}` failed: {detail[-1] if detail else proc.returncode}", where=str(cwd)
        )
    return proc.stdout


def git(root: Path, *args: str) -> str:
    return gitcmd.output(root, *args)


def dvc(root: Path, *args: str) -> str:
    from mlctl.repo.pipeline import dvc_executable

    return _run([*dvc_executable(), *args], root, "dvc")


def identity_options(root: Path) -> list[str]:
    """`-c user.name=... -c user.email=...` only when git has no identity for this repository."""

    def configured(key: str, env: str) -> bool:
        if os.environ.get(env):
            return True
        proc = gitcmd.run(root, "config", "--get", key, check=False)
        return proc.returncode == 0 and bool(proc.stdout.strip())

    has_name = configured("user.name", "GIT_AUTHOR_NAME")
    has_email = configured("user.email", "GIT_AUTHOR_EMAIL")
    options = []
    if not has_name:
        options += ["-c", f"user.name={FALLBACK_IDENTITY[0]}"]
    if not has_email:
        options += ["-c", f"user.email={FALLBACK_IDENTITY[1]}"]
    return options


def init_repository(root: Path) -> None:
    """git init -b main, dvc init, and the local remote `.dvcstore/` (autostage on, like mlctl's own repo)."""
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    (root / ".dvc" / "config").write_text(DVC_CONFIG, encoding="utf-8")


def track_with_dvc(root: Path, rel: str) -> None:
    """`dvc add` a file: its content goes to the DVC cache, a small .dvc pointer to git."""
    dvc(root, "add", "-q", rel)


def initial_commit(root: Path, message: str) -> str:
    """Stage everything not ignored and commit; return the commit id."""
    git(root, "add", "-A")
    git(root, *identity_options(root), "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()
