"""params.yaml `predict:` — batch scoring."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class PredictParams(Section):
    """Batch scoring of files with the exported ONNX model."""

    input: str = A.TEST_DATA  # a file, a glob or a directory of partitions
    output: str = A.PREDICTIONS  # format follows the extension
    rejects: str | None = None  # default: <output stem>.rejects.<ext> beside the output
    model: str = A.ONNX_MODEL
    manifest: str = A.MANIFEST
    passthrough: list[str] = Field(default_factory=list)  # id columns copied to the output
    chunk_rows: int = Field(default=100_000, ge=1)
    # scikit-learn's OneHotEncoder semantics: ignore encodes an unknown category as all zeros; reject: a reject row
    unknown_category: Literal["ignore", "reject"] = "ignore"
    max_reject_share: float = Field(default=0.05, ge=0, le=1)
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None  # dask scheduler address; none: a LocalCluster
    dask_workers: int = Field(default=2, ge=1)  # LocalCluster size when no scheduler is given

    @field_validator("unknown_category", mode="before")
    @classmethod
    def _old_name(cls, value: object) -> object:
        return "ignore" if value == "missing" else value  # the policy's former name
