"""`mlctl serve`: the online prediction service (FastAPI on uvicorn, ONNX model via onnxruntime).

``create_app(config)`` builds the app; nothing is loaded at import time, so tests
and other ASGI servers can mount it. ``app_from_env()`` is the factory uvicorn
imports when it runs several worker processes.
"""

from __future__ import annotations

from mlctl.serve.config import ServeConfig

__all__ = ["ServeConfig", "app_from_env", "create_app"]


def create_app(config: ServeConfig, model=None):
    """Build the FastAPI app for ``config`` (see mlctl.serve.app)."""
    from mlctl.serve.app import create_app as _create

    return _create(config, model)


def app_from_env():
    """The uvicorn factory for worker processes: config comes from MLCTL_SERVE_CONFIG."""
    return create_app(ServeConfig.from_env())
