"""Where an artifact came from: the versions of the libraries that shape it and the git commit."""

from __future__ import annotations

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
