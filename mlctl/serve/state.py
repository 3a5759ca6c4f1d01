"""The served model (swapped atomically on reload) and the service's readiness."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from mlctl.core.errors import MlctlError, ModelError
from mlctl.onnxmodel.runtime import OnnxModel
from mlctl.serve.plain import Plan
from mlctl.serve.schemas import example_instance

if TYPE_CHECKING:
    from mlctl.serve.config import ServeConfig


class Served:
    """One loaded model plus what the routes precompute from its manifest."""

    def __init__(self, model: OnnxModel):
        self.model = model
        self.manifest = model.manifest
        self.version = model.version
        self.name = model.name
        self.names = model.input_names
        self.name_set = frozenset(self.names)
        self.kinds = {s.name: s.kind for s in model.inputs}
        self.categorical = [s.name for s in model.inputs if s.kind == "categorical"]
        self.task = model.task
        self.classes = list(model.classes) if model.classes is not None else None
        self.class_keys = [str(c) for c in self.classes] if self.classes is not None else None
        self.example = example_instance(model.inputs)
        self.plan = Plan(model)
        self.signature = (self.task, tuple((s.name, s.kind) for s in model.inputs))

    def warm_up(self) -> None:
        """Score the example instance once: the first real request must not pay for lazy init."""
        checked = self.model.check_records([self.example], unknown="missing")
        if not checked.ok.all():
            raise ModelError(f"warm-up example rejected: {checked.reasons}", where=str(self.model.path))
        self.model.predict_checked(checked)


def load_model(config: ServeConfig) -> OnnxModel:
    """Open the ONNX model after checking its sha256 against the manifest."""
    return OnnxModel.load(config.model_path, config.manifest_path, threads=config.threads)


class ModelState:
    """The current model, readiness, and the reload that keeps the old model on any doubt."""

    def __init__(self, config: ServeConfig, model: OnnxModel | None = None):
        self.config = config
        self.served = Served(model or load_model(config))
        self.warm = False
        self.shutting_down = False
        self.draining = False  # the drain window after SIGTERM (serve.drain_seconds): new requests get 503
        self.reloads = {"ok": 0, "refused": 0}
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.warm and not self.shutting_down

    def warm_up(self) -> None:
        self.served.warm_up()
        self.warm = True

    def reload(self) -> tuple[str, str]:
        """Load the model files again; swap only if sha256, schema and warm-up all pass.

        Returns (old version, new version). Raises MlctlError (the old model keeps serving).
        """
        with self._lock:
            old = self.served
            try:
                new = Served(load_model(self.config))
                if new.signature != old.signature:
                    raise ModelError(
                        "the new model's task or input schema differs from the served one: "
                        f"{_describe(new.signature)} vs {_describe(old.signature)}",
                        where=self.config.model_path,
                        hint="a model with new inputs needs a new deployment (restart `mlctl serve`)",
                    )
                new.warm_up()
            except MlctlError:
                self.reloads["refused"] += 1
                raise
            except Exception as exc:  # whatever else a new model file can break: refused, never a 500
                self.reloads["refused"] += 1
                raise ModelError(
                    f"the new model cannot be loaded: {exc!r}"[:500], where=self.config.model_path
                ) from exc
            self.served = new  # one attribute assignment: requests see the old or the new model, never a mix
            self.reloads["ok"] += 1
            return old.version, new.version


def _describe(signature: tuple) -> str:
    task, inputs = signature
    return f"{task} on [" + ", ".join(f"{n}:{k}" for n, k in inputs) + "]"
