"""params.yaml `serve:` — the online prediction service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class ServeParams(Section):
    """Limits and logging of `mlctl serve`; host/port can be overridden on the command line."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    model: str = A.ONNX_MODEL
    manifest: str = A.MANIFEST
    max_rows: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # scikit-learn's OneHotEncoder semantics: ignore encodes an unknown category as all zeros; reject: 422
    unknown_category: Literal["ignore", "reject"] = "ignore"
    extra_fields: Literal["reject", "ignore"] = "reject"  # /predict records with fields the model has no input for
    drain_seconds: float = Field(default=2.0, ge=0)  # after SIGTERM: answer 503 + Connection: close this long
    batch_rows: int = Field(default=64, ge=1)  # rows of concurrent /predict requests scored in one call; 1: off
    log_dir: str | None = A.REQUEST_LOGS
    log_max_rows: int = Field(default=100_000, ge=1)  # rotate a log file after this many rows
    log_max_seconds: float = Field(default=3600, gt=0)  # ... or after this long
    log_flush_seconds: float = Field(default=1.0, gt=0)
    # a second model scoring requests off the response path, logged beside the champion (role "shadow")
    shadow: str | None = None  # a model path or registry reference, as --model
    shadow_share: float = Field(default=1.0, ge=0, le=1)  # share of /predict requests the shadow scores
    shadow_queue: int = Field(default=10_000, ge=1)  # requests waiting for the shadow; beyond: dropped, counted
    # a candidate answering a share of clients (role "canary"); /admin/canary changes it at run time
    canary: str | None = None
    canary_share: float = Field(default=0.1, ge=0, le=1)
    canary_header: str = "X-Client-ID"  # hashed for sticky assignment; a request without it is assigned at random

    @field_validator("unknown_category", mode="before")
    @classmethod
    def _old_name(cls, value: object) -> object:
        return "ignore" if value == "missing" else value  # the policy's former name
