"""The service's resolved configuration, passable to worker processes through the environment."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from mlctl.core.errors import ConfigError

if TYPE_CHECKING:
    from mlctl.core.project import Project
    from mlctl.params.serve import ServeParams

ENV_VAR = "MLCTL_SERVE_CONFIG"
TOKEN_ENV = "MLCTL_ADMIN_TOKEN"


@dataclass(frozen=True)
class ServeConfig:
    """Absolute paths and limits; everything a worker needs to build the app by itself."""

    model_path: str
    manifest_path: str | None = None
    max_rows: int = 1000
    max_body_bytes: int = 1_048_576
    unknown_category: str = "ignore"
    extra_fields: str = "reject"  # /predict: "ignore" drops fields the model has no input for
    drain_seconds: float = 0.0  # after SIGTERM: answer 503 + Connection: close this long, then drain
    log_dir: str | None = None
    log_max_rows: int = 100_000
    log_max_seconds: float = 3600.0
    log_flush_seconds: float = 1.0
    threads: int = 1  # onnxruntime intra-op threads: one per worker keeps single rows fast
    thread_rows: int = 64  # batches larger than this are scored off the event loop
    batch_rows: int = 64  # adaptive batching: rows of concurrent /predict requests scored in one call
    # several workers (mlctl.serve.workers): they load a snapshot; reloads read the source and go through the supervisor
    source_model_path: str | None = None
    source_manifest_path: str | None = None
    supervisor_pid: int | None = None

    @classmethod
    def from_params(cls, params: ServeParams, project: Project, model: str | None = None) -> ServeConfig:
        """Resolve params.yaml `serve:` paths inside the project; ``model`` overrides serve.model."""
        if model and "@" in model:  # a registry reference: name@stage, name@vX.Y.Z, name@latest
            from mlctl.repo.registry import materialise

            model_path, manifest = materialise(project.root, model)
        else:
            model_path = project.path(model or params.model, what="model path")
            # a model given on the command line brings its own manifest beside it
            manifest = model_path.with_suffix(".json") if model else project.path(params.manifest, what="manifest path")
        return cls(
            model_path=str(model_path),
            manifest_path=str(manifest),
            max_rows=params.max_rows,
            max_body_bytes=params.max_body_bytes,
            unknown_category=params.unknown_category,
            extra_fields=params.extra_fields,
            drain_seconds=params.drain_seconds,
            log_dir=str(project.path(params.log_dir, what="log directory")) if params.log_dir else None,
            log_max_rows=params.log_max_rows,
            log_max_seconds=params.log_max_seconds,
            log_flush_seconds=params.log_flush_seconds,
            batch_rows=params.batch_rows,
        )

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        raw = os.environ.get(ENV_VAR)
        if not raw:
            raise ConfigError(f"{ENV_VAR} is not set", hint="start the service with `mlctl serve`")
        return cls(**json.loads(raw))
