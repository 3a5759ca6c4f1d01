"""params.yaml `export:` — ONNX conversion and parity tolerance."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class ExportParams(Section):
    """How the fitted pipeline becomes models/model.onnx."""

    opset: int | None = Field(default=None, ge=9)  # none: skl2onnx's default for the installed onnx
    tolerance: float = Field(default=1e-4, gt=0)  # max |proba or value difference| vs scikit-learn
    label_agreement: float = Field(default=0.999, gt=0, le=1)  # share of labels that must agree
    model_name: str = "model"
    output: str = A.ONNX_MODEL
    manifest: str = A.MANIFEST
    model: str = f"{A.MODEL_DIR}/{A.MODEL_FILE}"  # the fitted pipeline `mlctl train` wrote
    train_report: str = f"{A.MODEL_DIR}/{A.TRAIN_REPORT_FILE}"  # features, task, target, classes of that pipeline
    input_dir: str = A.PROCESSED_DIR  # train split: input schema; test split: parity check
    parity_split: str = "test"
    parity_rows: int = Field(default=100_000, ge=100)  # a seeded sample of the split at most: proof, not a census
    metrics: str = f"{A.METRICS_DIR}/{A.METRICS_FILE}"  # copied into the manifest when present
    gate_report: str = A.GATE_REPORT  # its model_size rule (gate.max_model_mb) also bounds the ONNX model
