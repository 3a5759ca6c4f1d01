"""Run the app on uvicorn: one process, or several workers built by an import-string factory."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlctl.core.errors import ConfigError
from mlctl.serve.config import ServeConfig

if TYPE_CHECKING:
    from mlctl.core.project import Project
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.params.serve import ServeParams


def fast_stack() -> dict:
    """uvloop + httptools when installed (uvicorn[standard]); uvloop also sets TCP_NODELAY.

    On the plain asyncio loop with several workers, Nagle's algorithm stays on and
    each keep-alive request can stall ~40 ms, so prefer uvloop whenever it exists.
    """
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:  # pragma: no cover - uvicorn[standard] ships both
        return {"loop": "auto", "http": "auto"}
    return {"loop": "uvloop", "http": "httptools"}


@dataclass
class Prepared:
    """A checked configuration and its loaded model, ready to run."""

    config: ServeConfig
    model: OnnxModel
    host: str
    port: int
    workers: int
    access_log: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT; uvicorn drains in-flight requests before exiting."""
        import uvicorn

        common = {
            "host": self.host,
            "port": self.port,
            "access_log": self.access_log,
            "log_level": "info",
            "timeout_graceful_shutdown": 30,
            **fast_stack(),
        }
        if self.workers > 1:  # uvicorn imports the factory by name; each worker reads the config from the env
            from mlctl.serve.workers import run_workers

            run_workers(self.config, self.model, common, self.workers)
            return
        from mlctl.serve.app import create_app

        server = uvicorn.Server(uvicorn.Config(create_app(self.config, self.model), **common))
        # uvicorn re-raises the signal it stopped on once it has drained, which would end the process
        # with -SIGTERM; a clean drain is a normal exit (0)
        previous = {}
        if threading.current_thread() is threading.main_thread():  # signals are the main thread's only
            previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            server.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _stopped(sig: int, frame: object) -> None:
    """What uvicorn's re-raised signal finds after a graceful shutdown: nothing left to do."""


def prepare(
    params: ServeParams,
    project: Project,
    *,
    model: str | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    access_log: bool = False,
    shadow: str | None = None,
    canary: str | None = None,
) -> Prepared:
    """Resolve the config and load the model once (sha256 checked) so a bad model fails before binding.

    ``shadow`` / ``canary``: a second model (path or registry reference), checked here too.
    """
    from mlctl.serve.state import Served, load_model, load_second

    config = ServeConfig.from_params(params, project, model, shadow=shadow, canary=canary)
    workers = params.workers if workers is None else workers
    port = params.port if port is None else port
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be 1-65535, got {port}")
    loaded = load_model(config)
    champion = Served(loaded)
    for role in ("shadow", "canary"):
        load_second(config, role, champion)  # a bad second model fails here, before binding
    return Prepared(config, loaded, host or params.host, port, workers, access_log)
