"""Configure DVC remotes: the default local directory, or S3-compatible storage."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlctl.core.errors import ConfigError, ExternalError


@dataclass(frozen=True)
class Remote:
    """A DVC remote as `dvc remote list` shows it."""

    name: str
    url: str
    default: bool


def _dvc(root: Path, *args: str) -> str:
    from mlctl.repo.pipeline import dvc_executable

    proc = subprocess.run([*dvc_executable(), *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ExternalError(f"dvc {' '.join(args[:2])} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def add(
    root: Path,
    name: str,
    url: str,
    *,
    default: bool = False,
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
) -> Remote:
    """Add (or replace) a remote; S3 options go to the shared config, never credentials."""
    if not url.startswith("s3://") and (endpoint_url or region or profile):
        raise ConfigError("--endpoint-url/--region/--profile only apply to s3:// remotes", where=url)
    if "://" not in url:  # a local directory: keep it relative so clones elsewhere work
        url = str(Path(url))
    _dvc(root, "remote", "add", "--force", *(["--default"] if default else []), name, url)
    for key, value in (("endpointurl", endpoint_url), ("region", region), ("profile", profile)):
        if value:
            _dvc(root, "remote", "modify", name, key, value)
    return next(r for r in list_remotes(root) if r.name == name)


def list_remotes(root: Path) -> list[Remote]:
    """Configured remotes, the default one flagged."""
    default = _dvc(root, "config", "core.remote").strip() if _has_default(root) else ""
    remotes = []
    for line in _dvc(root, "remote", "list").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            remotes.append(Remote(parts[0], parts[1], parts[0] == default))
    return remotes


def _has_default(root: Path) -> bool:
    from mlctl.repo.pipeline import dvc_executable

    proc = subprocess.run([*dvc_executable(), "config", "core.remote"], cwd=root, capture_output=True, text=True)
    return proc.returncode == 0 and bool(proc.stdout.strip())
