"""params.yaml `bench:` — the micro-benchmark of the exported model (`mlctl bench`)."""

from __future__ import annotations

from pydantic import Field

from mlctl.params.base import Section


class BenchParams(Section):
    """What `mlctl bench` scores, how often, and where it writes the timings."""

    model: str = "models/model.onnx"
    manifest: str | None = None  # default: the model's .json beside it
    input: str = "data/processed/test.parquet"  # rows to score (repeated); generated from the schema if absent
    output: str = "reports/bench.json"  # `mlctl report` compares it with the base branch's (commit it on main)
    rows: int = Field(default=10_000, ge=1)  # rows in one batch call
    single: int = Field(default=300, ge=1)  # single-row calls
    repeat: int = Field(default=5, ge=1)  # batch calls
    budget: float = Field(default=6.0, gt=0)  # seconds at most for the single-row loop
    threads: int = Field(default=1, ge=0)  # onnxruntime intra-op threads (0: all cores); 1 is stable on CI
