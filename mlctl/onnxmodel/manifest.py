"""The model manifest (models/model.json), declared once: what serving, batch scoring and bundles trust.

`mlctl export` builds it (``Manifest.build`` validates before anything is written); the runtime reads it
with ``read_manifest`` (a malformed file is a ModelError naming the key, never a crash later). Keys beyond
the declared ones (parity, metrics, data_hash, packages, ...) are kept as they are. The edge runner
(mlctl/edge/runner.py) keeps its own checks on purpose: it runs without mlctl installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlctl.core.errors import DataError, ModelError

SCHEMA_VERSION = 1  # bump when a reader could misread an older manifest


class Input(BaseModel):
    """One model input: a feature column of the canonical model frame."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str = Field(min_length=1)
    kind: Literal["numeric", "categorical"]
    nullable: bool = True
    categories: list[str] | None = None
    min: float | None = None
    max: float | None = None


class Manifest(BaseModel):
    """models/model.json as a typed, frozen object."""

    model_config = ConfigDict(frozen=True, extra="allow")

    schema_version: int = SCHEMA_VERSION
    name: str = "model"
    version: str = "unknown"
    created: str | None = None
    task: Literal["classification", "regression"]
    target: str | None = None
    classes: list[Any] | None = None
    sha256: str = Field(min_length=1)
    onnx_file: str | None = None
    opset: int | None = None
    inputs: list[Input] = Field(min_length=1)
    outputs: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def parse(cls, data: Any, where: str = "models/model.json") -> Manifest:
        """Validate manifest data; a ModelError says which key is wrong and what to do."""
        if not isinstance(data, dict):
            raise ModelError(
                f"model manifest is not a JSON object (got {type(data).__name__})",
                where=where,
                hint="re-run `mlctl export`",
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            raise ModelError(
                f"model manifest: {key}: {err['msg']}", where=where, hint="re-run `mlctl export`"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON mapping, as written to models/model.json (keys that were not given stay absent)."""
        return self.model_dump(mode="json", exclude_unset=True)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and validate a manifest file; the validated mapping (unknown keys kept)."""
    from mlctl.core.fileio import read_json

    try:
        data = read_json(path)
    except DataError as exc:
        raise ModelError(f"model manifest: {exc.message}", where=str(path), hint="re-run `mlctl export`") from None
    return Manifest.parse(data, str(path)).to_dict()
