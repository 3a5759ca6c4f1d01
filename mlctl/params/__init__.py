"""params.yaml, loaded once into typed, frozen config objects.

One section per stage (key = stage = command = module name). Each stage gets
only its own section plus the shared keys in ``Common`` (seed, target, task).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from mlctl.errors import ConfigError, InputNotFoundError
from mlctl.params.base import Section
from mlctl.params.bench import BenchParams
from mlctl.params.bundle import BundleParams
from mlctl.params.collect import CollectParams, Source
from mlctl.params.evaluate import EvaluateParams
from mlctl.params.export import ExportParams
from mlctl.params.gate import GateParams
from mlctl.params.monitor import MonitorParams
from mlctl.params.predict import PredictParams
from mlctl.params.prepare import PrepareParams
from mlctl.params.report import ReportParams
from mlctl.params.retrain import RetrainParams
from mlctl.params.serve import ServeParams
from mlctl.params.train import TrainParams
from mlctl.params.validate import ValidateParams

__all__ = [
    "STAGES",
    "Common",
    "Params",
    "Section",
    "Source",
    "load_params",
    "parse_params",
]

Task = Literal["classification", "regression"]


class Common(Section):
    """Keys every stage shares."""

    seed: int = Field(default=42, ge=0)
    target: str = Field(min_length=1)
    task: Task = "classification"


class Params(Common):
    """The whole params.yaml."""

    collect: CollectParams
    validate_: ValidateParams = Field(default_factory=ValidateParams, alias="validate")
    prepare: PrepareParams = Field(default_factory=PrepareParams)
    train: TrainParams = Field(default_factory=TrainParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    gate: GateParams = Field(default_factory=GateParams)
    export: ExportParams = Field(default_factory=ExportParams)
    serve: ServeParams = Field(default_factory=ServeParams)
    predict: PredictParams = Field(default_factory=PredictParams)
    bundle: BundleParams = Field(default_factory=BundleParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)
    retrain: RetrainParams = Field(default_factory=RetrainParams)
    report: ReportParams = Field(default_factory=ReportParams)
    bench: BenchParams = Field(default_factory=BenchParams)

    @property
    def common(self) -> Common:
        """The shared keys alone."""
        return Common(seed=self.seed, target=self.target, task=self.task)

    def section(self, stage: str) -> Section:
        """Return one stage's section by its name in params.yaml."""
        if stage not in STAGES:
            raise ConfigError(f"no params section {stage!r}", hint=_nearest(stage, STAGES))
        return getattr(self, "validate_" if stage == "validate" else stage)

    def to_dict(self) -> dict[str, Any]:
        """The effective config, defaults filled in, as plain data."""
        return self.model_dump(mode="json", by_alias=True)


# Stage sections in pipeline order; `validate` is aliased because BaseModel owns that name.
STAGES = [
    "collect",
    "validate",
    "prepare",
    "train",
    "evaluate",
    "gate",
    "export",
    "serve",
    "predict",
    "bundle",
    "monitor",
    "retrain",
    "report",
    "bench",
]
Params.model_config["populate_by_name"] = True
Params.model_rebuild(force=True)


def _nearest(word: str, options: list[str] | set[str]) -> str | None:
    match = difflib.get_close_matches(str(word), sorted(options), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


def _fields_at(loc: tuple) -> set[str]:
    """Valid keys of the model found by following ``loc`` from the root."""
    model: Any = Params
    skip = 0  # list indexes and dict keys in loc that lead into a container's items
    for part in loc:
        if skip:
            skip -= 1
            continue
        fields = getattr(model, "model_fields", None)
        by_alias = {(f.alias or name): f for name, f in (fields or {}).items()}
        field = by_alias.get(part)
        if field is None:
            return set()
        model, skip = _inner_model(field.annotation)
    fields = getattr(model, "model_fields", {})
    return {(f.alias or name) for name, f in fields.items()}


def _inner_model(annotation: Any, depth: int = 0) -> tuple[Any, int]:
    """The Section inside Optional/list/dict annotations, and how many loc parts lead to it."""
    from typing import get_args, get_origin

    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation, depth
    nested = 1 if get_origin(annotation) in (list, dict) else 0
    for arg in get_args(annotation):
        inner, d = _inner_model(arg, depth + nested)
        if inner is not None:
            return inner, d
    return None, 0


def _format_errors(exc: ValidationError, source: str) -> ConfigError:
    lines, hint = [], None
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{...}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        if err["type"] == "extra_forbidden":
            near = _nearest(str(loc[-1]), _fields_at(loc[:-1]))
            lines.append(f"{key}: unknown key" + (f" ({near})" if near else ""))
            hint = hint or near
        elif err["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            lines.append(f"{key}: {err['msg']} (got {shown})")
    return ConfigError(
        "invalid params:\n  " + "\n  ".join(lines),
        where=source,
        hint=hint or "fix the keys above; `mlctl params show` prints the effective config",
    )


def parse_params(data: Any, source: str = "params.yaml") -> Params:
    """Validate already-loaded params data; raise ConfigError naming key, value and fix."""
    if not isinstance(data, dict):
        raise ConfigError("params must be a mapping of sections", where=source)
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        raise _format_errors(exc, source) from None


def load_params(path: str | Path) -> Params:
    """Read and validate params.yaml (yaml.safe_load only)."""
    from mlctl.io import read_yaml

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError("params file not found", where=str(path))
    try:
        data = read_yaml(path)
    except Exception as exc:  # DataError from read_yaml: a broken params file is a config error
        raise ConfigError(str(exc), where=str(path)) from None
    return parse_params(data or {}, str(path))
