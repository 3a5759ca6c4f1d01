"""params.yaml `predict:` — batch scoring."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlctl.params.base import Section


class PredictParams(Section):
    """Batch scoring of files with the exported ONNX model."""

    input: str = "data/batch/sample.parquet"
    output: str = "data/predictions/sample.parquet"
    model: str = "models/model.onnx"
    manifest: str = "models/model.json"
    passthrough: list[str] = Field(default_factory=list)  # id columns copied to the output
    chunk_rows: int = Field(default=100_000, ge=1)
    unknown_category: Literal["reject", "missing"] = "missing"
    max_reject_share: float = Field(default=0.05, ge=0, le=1)
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
