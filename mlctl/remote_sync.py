"""`mlctl remote check|push|pull`: move data and models to and from the DVC remote, with errors that say what to set.

In CI the remote comes from the environment (repository variables and secrets), never from a
committed file: ``DVC_REMOTE_URL`` (e.g. ``s3://bucket/project``) and, for S3-compatible storage,
``DVC_REMOTE_ENDPOINT``; credentials from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
(or an AWS profile). When DVC_REMOTE_URL is set, it becomes the default remote ``ci`` in
.dvc/config.local (git-ignored).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from mlctl.errors import ConfigError, ExternalError
from mlctl.remote import Remote, list_remotes

ENV_URL = "DVC_REMOTE_URL"
ENV_ENDPOINT = "DVC_REMOTE_ENDPOINT"  # the generated workflows' name; DVC_REMOTE_ENDPOINT_URL is read too
ENV_ENDPOINT_ALIAS = "DVC_REMOTE_ENDPOINT_URL"
ENV_REMOTE = "ci"
S3_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
WHAT_TO_SET = (
    f"set the repository variable {ENV_URL} (and {ENV_ENDPOINT} for S3-compatible storage) and the secrets "
    f"{' and '.join(S3_KEYS)}, mapped into the step's env (see docs/operations.md); "
    "locally: `mlctl remote add NAME URL --default`"
)


@dataclass
class SyncResult:
    """What check/push/pull did, against which remote."""

    action: str
    remote: str
    url: str
    from_env: bool
    seconds: float
    output: str

    def to_dict(self) -> dict:
        return asdict(self)


def _run_dvc(root: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    from mlctl.pipeline import dvc_executable

    try:
        return subprocess.run([*dvc_executable(), *args], cwd=root, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ExternalError(f"dvc {args[0]} took longer than {timeout:.0f}s", where=str(root)) from None


def configure_from_env(root: Path, env: Mapping[str, str]) -> Remote | None:
    """DVC_REMOTE_URL (+ DVC_REMOTE_ENDPOINT) → the default remote `ci` in .dvc/config.local."""
    url = env.get(ENV_URL, "").strip()
    if not url:
        return None
    steps = [["remote", "add", "--local", "--force", "--default", ENV_REMOTE, url]]
    endpoint = (env.get(ENV_ENDPOINT) or env.get(ENV_ENDPOINT_ALIAS) or "").strip()
    if endpoint:
        if not url.startswith("s3://"):
            raise ConfigError(f"{ENV_ENDPOINT} is set but {ENV_URL} is not an s3:// URL", where=url)
        steps.append(["remote", "modify", "--local", ENV_REMOTE, "endpointurl", endpoint])
    for args in steps:
        proc = _run_dvc(root, args, 60)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise ConfigError(
                f"cannot configure the DVC remote from {ENV_URL}: {detail[-1] if detail else proc.returncode}",
                where=url,
                hint=WHAT_TO_SET,
            )
    return Remote(ENV_REMOTE, url, True)


def chosen(root: Path, name: str | None, env: Mapping[str, str]) -> tuple[Remote, bool]:
    """The remote to use: ``name``, else DVC_REMOTE_URL's, else the default one; and whether it came from env."""
    from_env = configure_from_env(root, env)
    remotes = list_remotes(root)
    if name:
        match = [r for r in remotes if r.name == name]
        if not match:
            known = ", ".join(r.name for r in remotes) or "none"
            raise ConfigError(f"no DVC remote named {name!r} (configured: {known})", hint=WHAT_TO_SET)
        return match[0], from_env is not None and name == ENV_REMOTE
    if from_env is not None:
        return from_env, True
    default = [r for r in remotes if r.default]
    if not default:
        raise ConfigError("no default DVC remote is configured", hint=WHAT_TO_SET)
    return default[0], False


def missing_credentials(remote: Remote, env: Mapping[str, str]) -> list[str]:
    """The environment variables an s3:// remote needs and lacks (none when a profile or file provides them)."""
    if not remote.url.startswith("s3://"):
        return []
    if (
        env.get("AWS_PROFILE")
        or env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
        or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    ):
        return []
    shared = Path(
        env.get("AWS_SHARED_CREDENTIALS_FILE") or Path(env.get("HOME", "~")).expanduser() / ".aws/credentials"
    )
    if shared.is_file():
        return []
    return [k for k in S3_KEYS if not env.get(k, "").strip()]


def sync(
    root: Path,
    action: str,
    *,
    remote: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
    targets: list[str] | None = None,
) -> SyncResult:
    """``check`` (compare the cache with the remote), ``push`` or ``pull``, failing with what to set."""
    if action not in ("check", "push", "pull"):
        raise ValueError(action)
    env = os.environ if env is None else env
    chosen_remote, from_env = chosen(root, remote, env)
    where = f"DVC remote {chosen_remote.name!r} ({chosen_remote.url})"
    lacking = missing_credentials(chosen_remote, env)
    if lacking:
        raise ConfigError(
            f"{where}: no S3 credentials: {', '.join(lacking)} not set",
            hint=f"set the secrets {' and '.join(S3_KEYS)} and map them into the step's env "
            "(`env: AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}`), or use an AWS profile",
        )
    args = {"check": ["status", "--cloud"], "push": ["push"], "pull": ["pull"]}[action]
    started = time.perf_counter()
    proc = _run_dvc(root, [*args, "--remote", chosen_remote.name, *(targets or [])], timeout)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        lines = [line for line in output.splitlines() if line.strip()]
        detail = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1] if lines else "")
        raise ExternalError(
            f"{where}: dvc {args[0]} failed: {detail.removeprefix('ERROR: ')[:300]}",
            where=chosen_remote.url,
            hint=f"check that the remote is reachable and the credentials are valid; {WHAT_TO_SET}",
        )
    return SyncResult(
        action, chosen_remote.name, chosen_remote.url, from_env, round(time.perf_counter() - started, 2), output
    )
