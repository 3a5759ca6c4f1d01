"""Several worker processes behind one socket, with model reloads that reach every worker.

Workers load a private snapshot of the model (a copy checked when it was made),
so a worker that the supervisor restarts after a crash loads a known-good
model, never the file on disk that may since have been replaced by a bad one:
no crash loop. A reload (SIGHUP to the supervisor, or ``POST /admin/reload`` on
any worker, which checks the new model and then signals the supervisor) first
checks the new model in the supervisor (sha256, schema, warm-up); only then is
it snapshotted and the workers replaced one by one (uvicorn's rolling restart,
which keeps an old worker when its replacement does not come up).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlctl.serve.config import ENV_VAR, ServeConfig

log = logging.getLogger("mlctl.serve")
GENERATION_FILE = "generation.json"


class Snapshots:
    """Numbered copies of the model and manifest under one private directory."""

    def __init__(self, config: ServeConfig):
        self.source = config  # the paths a reload reads
        self.root = Path(tempfile.mkdtemp(prefix="mlctl-serve-"))
        self.generation = 0

    def take(self) -> ServeConfig:
        """Copy the source model and manifest; the config workers load (pointing at the copies)."""
        self.generation += 1
        folder = self.root / str(self.generation)
        folder.mkdir()
        model = folder / "model.onnx"
        manifest = folder / "model.json"
        shutil.copyfile(self.source.model_path, model)
        shutil.copyfile(self.source.manifest_path or Path(self.source.model_path).with_suffix(".json"), manifest)
        config = replace(
            self.source,
            model_path=str(model),
            manifest_path=str(manifest),
            source_model_path=self.source.model_path,
            source_manifest_path=self.source.manifest_path,
            supervisor_pid=os.getpid(),
            # a worker being replaced must stop taking connections at once: the others share its socket
            drain_seconds=0.0,
        )
        (self.root / GENERATION_FILE).write_text(json.dumps({"generation": self.generation}))
        return config

    def prune(self) -> None:
        """Remove all but the current copy (workers have the old ones open only while starting)."""
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name != str(self.generation):
                shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def check_model(config: ServeConfig, current: Any) -> Any:
    """The model at ``config``'s source paths, loaded and warmed up, if it may replace ``current``.

    MlctlError when it cannot serve (sha256, manifest, warm-up) or its task or inputs changed.
    """
    from mlctl.serve.state import ModelState

    source = replace(
        config,
        model_path=config.source_model_path or config.model_path,
        manifest_path=config.source_manifest_path or config.manifest_path,
    )
    state = ModelState(source, current)
    state.reload()
    return state.served


def run_workers(config: ServeConfig, model: Any, uvicorn_options: dict, workers: int) -> None:
    """Serve with ``workers`` processes until SIGTERM/SIGINT; SIGHUP reloads all of them."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    snapshots = Snapshots(config)

    class Supervisor(Multiprocess):
        served: Any = None

        def handle_hup(self) -> None:
            from mlctl.core.errors import MlctlError

            try:
                self.served = check_model(config, self.served.model if self.served else model)
            except MlctlError as exc:
                log.error("SIGHUP: reload refused, the workers keep the current model: %s", exc)
                return
            os.environ[ENV_VAR] = snapshots.take().to_env()
            log.warning("SIGHUP: replacing the %d workers with model %s", len(self.processes), self.served.version)
            self.restart_all()
            snapshots.prune()

    try:
        os.environ[ENV_VAR] = snapshots.take().to_env()
        uv_config = uvicorn.Config("mlctl.serve:app_from_env", factory=True, workers=workers, **uvicorn_options)
        sock = uv_config.bind_socket()
        Supervisor(uv_config, sockets=[sock]).run()
    finally:
        snapshots.close()
