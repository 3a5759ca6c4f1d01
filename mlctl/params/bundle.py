"""params.yaml `bundle:` — the edge bundle."""

from __future__ import annotations

from pydantic import Field

from mlctl.core import artifacts as A
from mlctl.params.base import Section


class BundleParams(Section):
    """What goes into dist/: model, ORT format, quantised variant, runner."""

    output_dir: str = A.DIST_DIR
    model: str = A.ONNX_MODEL
    manifest: str = A.MANIFEST
    model_card: str = A.MODEL_CARD  # included when present (written by `mlctl evaluate`)
    parity_data: str = A.TEST_DATA  # scores the quantised (and ORT) model against the full one
    parity_rows: int = Field(default=50_000, ge=100)  # a seeded sample of parity_data at most
    ort_format: bool = True
    quantize: bool = False
    quantize_tolerance: float = Field(default=0.05, gt=0)  # max |difference| of probabilities / values
