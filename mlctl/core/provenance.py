"""Where an artifact came from: the versions of the libraries that shape it and the git commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

# Distributions whose versions change a model's fit or its exported graph (key: short name).
PACKAGES = {
    "sklearn": "scikit-learn",
    "numpy": "numpy",
    "pandas": "pandas",
    "skl2onnx": "skl2onnx",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
}


def package_versions() -> dict[str, str | None]:
    """Installed versions of PACKAGES plus mlctl's own (None when a package is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    from mlctl import __version__

    found: dict[str, str | None] = {}
    for key, dist in PACKAGES.items():
        try:
            found[key] = version(dist)
        except PackageNotFoundError:
            found[key] = None
    found["mlctl"] = __version__
    return found


def git_commit(root: Path) -> str | None:
    """HEAD's commit of the repository holding ``root``, or None outside git."""
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None
