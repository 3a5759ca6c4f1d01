"""params.yaml `bundle:` — the edge bundle."""

from __future__ import annotations

from pydantic import Field

from mlctl.params.base import Section


class BundleParams(Section):
    """What goes into dist/: model, ORT format, quantised variant, runner."""

    output_dir: str = "dist"
    ort_format: bool = True
    quantize: bool = False
    quantize_tolerance: float = Field(default=0.05, gt=0)
