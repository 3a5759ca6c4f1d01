"""Derived model files for the edge bundle: onnxruntime's ORT format and a quantised variant.

Both are checked against the full ONNX model on the parity data before they are
shipped: same inputs, largest absolute difference of probabilities (classifiers)
or values (regressors), and label agreement.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlctl.core.errors import ExternalError

if TYPE_CHECKING:
    from mlctl.onnxmodel.runtime import OnnxModel


def to_ort(model_file: Path, out_dir: Path) -> list[Path]:
    """Convert to ORT format (for onnxruntime mobile/minimal builds); returns the files made."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            sys.executable,
            "-m",
            "onnxruntime.tools.convert_onnx_models_to_ort",
            str(model_file),
            "--output_dir",
            tmp,
            "--optimization_style",
            "Fixed",
        ]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
        made = sorted(Path(tmp).glob("*.ort")) + sorted(Path(tmp).glob("*.config"))
        if proc.returncode != 0 or not any(p.suffix == ".ort" for p in made):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ExternalError(
                f"ORT conversion failed: {' '.join(tail)}", hint="set bundle.ort_format: false to skip it"
            )
        out = []
        for p in made:
            target = out_dir / p.name
            data = p.read_bytes()
            if p.suffix == ".config":  # it names the converted file by its temporary path
                data = data.replace(str(p.with_suffix("")).encode(), b"").replace(tmp.encode() + b"/", b"")
            target.write_bytes(data)
            out.append(target)
        return out


def quantize(model_file: Path, out_file: Path) -> None:
    """Dynamic (weight-only, int8) quantisation with onnxruntime."""
    import logging

    from onnxruntime.quantization import quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # it warns about pre-processing on every call
    quantize_dynamic(str(model_file), str(out_file))


def parity_feeds(
    model: OnnxModel, data_file: Path, max_rows: int | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """Model inputs for the valid rows of the parity data (a seeded sample of ``max_rows`` at most)."""
    from mlctl.core.fileio import read_table
    from mlctl.model.features import Feature, to_model_frame

    df = read_table(data_file)
    if max_rows is not None and len(df) > max_rows:
        df = df.sample(max_rows, random_state=seed).sort_index()
    features = [Feature(s.name, s.kind) for s in model.inputs]
    frame = to_model_frame(df, features)
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    checked = model.check_columns(columns, len(frame), unknown="missing")
    return {k: v[checked.ok] for k, v in checked.feeds.items()}


def compare(model: OnnxModel, other_file: Path, feeds: dict[str, np.ndarray]) -> dict:
    """Score ``feeds`` with the full model and ``other_file``; report the differences."""
    import onnxruntime as ort

    other = ort.InferenceSession(str(other_file), providers=["CPUExecutionProvider"])
    ref = model.session.run(None, feeds)
    got = other.run(None, feeds)
    rows = len(next(iter(feeds.values()))) if feeds else 0
    if rows == 0:
        return {"rows": 0, "max_abs_diff": None, "label_agreement": None}
    if model.task == "classification" and len(ref) > 1:
        diff = float(np.max(np.abs(np.asarray(ref[1], dtype=np.float64) - np.asarray(got[1], dtype=np.float64))))
    else:
        diff = float(np.max(np.abs(np.asarray(ref[0], dtype=np.float64) - np.asarray(got[0], dtype=np.float64))))
    agreement = float(np.mean(np.asarray(ref[0]).reshape(-1) == np.asarray(got[0]).reshape(-1)))
    return {"rows": rows, "max_abs_diff": diff, "label_agreement": agreement}
