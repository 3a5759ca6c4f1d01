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

    def __init__(self, model: OnnxModel, role: str = "champion"):
        self.role = role  # champion | canary | shadow: the request log's and /metrics' label
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


def load_second(config: ServeConfig, role: str, champion: Served) -> Served | None:
    """The shadow or canary model of ``config`` (sha256 checked), warmed up; None when not configured.

    A canary answers clients in the champion's place: it must take the same inputs for the same task.
    A shadow scores the champion's logged rows: the same task, and inputs among the champion's (it
    validates them itself, with its own schema).
    """
    path = config.shadow_model_path if role == "shadow" else config.canary_model_path
    manifest = config.shadow_manifest_path if role == "shadow" else config.canary_manifest_path
    if not path:
        return None
    served = Served(OnnxModel.load(path, manifest, threads=config.threads), role)
    same = served.signature == champion.signature if role == "canary" else served.task == champion.task
    new_inputs = [name for name in served.names if name not in champion.name_set]
    if role == "shadow" and same and new_inputs:
        raise ModelError(
            f"the shadow model takes input(s) {new_inputs} that the champion does not: "
            "a shadow scores the champion's logged rows, which do not have them",
            where=path,
            hint="serve a champion that takes these inputs first, then shadow the candidate",
        )
    if not same:
        raise ModelError(
            f"the {role} model does not fit the champion: "
            f"{_describe(served.signature)} vs {_describe(champion.signature)}",
            where=path,
            hint="a canary needs the champion's task and inputs; a shadow the champion's task",
        )
    served.warm_up()
    return served


class ModelState:
    """The current model, readiness, and the reload that keeps the old model on any doubt."""

    def __init__(self, config: ServeConfig, model: OnnxModel | None = None):
        self.config = config
        self.served = Served(model or load_model(config))
        self.shadow = load_second(config, "shadow", self.served)
        self.canary = load_second(config, "canary", self.served)
        self.canary_share = config.canary_share if self.canary is not None else 0.0
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


def promote(state: ModelState) -> tuple[str, str]:
    """The canary becomes the champion for every later request (in-flight ones finish with their model)."""
    canary = state.canary
    if canary is None:
        raise ModelError("no canary to promote", hint="start `mlctl serve --canary REF`")
    old = state.served.version
    state.served = Served(canary.model)  # the champion's role from now on; the model stays loaded and warm
    state.canary, state.canary_share = None, 0.0
    return old, canary.version


def _describe(signature: tuple) -> str:
    task, inputs = signature
    return f"{task} on [" + ", ".join(f"{n}:{k}" for n, k in inputs) + "]"
