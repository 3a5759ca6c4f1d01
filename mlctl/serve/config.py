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
    # shadow (scores off the response path) and canary (answers a share of clients): mlctl.serve.shadow, .canary
    shadow_model_path: str | None = None
    shadow_manifest_path: str | None = None
    shadow_share: float = 1.0
    shadow_queue: int = 10_000
    canary_model_path: str | None = None
    canary_manifest_path: str | None = None
    canary_share: float = 0.1
    canary_header: str = "x-client-id"

    @classmethod
    def from_params(
        cls,
        params: ServeParams,
        project: Project,
        model: str | None = None,
        *,
        shadow: str | None = None,
        canary: str | None = None,
    ) -> ServeConfig:
        """Resolve params.yaml `serve:` paths inside the project; ``model``, ``shadow``, ``canary`` override them."""
        model_path, manifest = _resolve(project, model, params.model, params.manifest)
        shadow = shadow or params.shadow
        canary = canary or params.canary
        shadow_paths = _resolve(project, shadow, None, None) if shadow else (None, None)
        canary_paths = _resolve(project, canary, None, None) if canary else (None, None)
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
            shadow_model_path=shadow_paths[0] and str(shadow_paths[0]),
            shadow_manifest_path=shadow_paths[1] and str(shadow_paths[1]),
            shadow_share=params.shadow_share,
            shadow_queue=params.shadow_queue,
            canary_model_path=canary_paths[0] and str(canary_paths[0]),
            canary_manifest_path=canary_paths[1] and str(canary_paths[1]),
            canary_share=params.canary_share,
            canary_header=params.canary_header.lower(),
        )

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        raw = os.environ.get(ENV_VAR)
        if not raw:
            raise ConfigError(f"{ENV_VAR} is not set", hint="start the service with `mlctl serve`")
        return cls(**json.loads(raw))


def _resolve(project: Project, ref: str | None, default_model: str | None, default_manifest: str | None):
    """(model path, manifest path) of a reference: a registry name@stage, a path (manifest beside it), or params'."""
    if ref and "@" in ref:  # a registry reference: name@stage, name@vX.Y.Z, name@latest
        from mlctl.repo.registry import materialise

        return materialise(project.root, ref)
    model_path = project.path(ref or default_model, what="model path")
    # a model given on the command line brings its own manifest beside it
    manifest = model_path.with_suffix(".json") if ref else project.path(default_manifest, what="manifest path")
    return model_path, manifest
