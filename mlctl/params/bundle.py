"""params.yaml `bundle:` — the edge bundle."""

from __future__ import annotations

from pydantic import Field

from mlctl.params.base import Section


class BundleParams(Section):
    """What goes into dist/: model, ORT format, quantised variant, runner."""

    output_dir: str = "dist"
    model: str = "models/model.onnx"
    manifest: str = "models/model.json"
    model_card: str = "reports/model_card.md"  # included when present (written by `mlctl evaluate`)
    parity_data: str = "data/processed/test.parquet"  # scores the quantised (and ORT) model against the full one
    ort_format: bool = True
    quantize: bool = False
    quantize_tolerance: float = Field(default=0.05, gt=0)  # max |difference| of probabilities / values
