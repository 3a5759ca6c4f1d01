"""Load an exported ONNX model (sha256 checked) and score validated inputs with onnxruntime.

This is the only way serving, batch prediction and monitoring run a model: no
pickle, no scikit-learn. Inputs are checked column by column against the
manifest's input schema with vectorised numpy, so the same code serves one
JSON row and ten million Parquet rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlctl.core.errors import InputNotFoundError, ModelError
from mlctl.onnxmodel.inputs import (
    FIELD_REQUIRED,
    UNEXPECTED_FIELD,
    Checked,
    InputSpec,
    Unknown,
    categorical_values,
    numeric_values,
)
from mlctl.onnxmodel.manifest import read_manifest
from mlctl.onnxmodel.smallcheck import SMALL, check_small


@dataclass
class Prediction:
    """Model outputs for the scored rows."""

    labels: np.ndarray  # class labels (classification) or values (regression)
    probabilities: np.ndarray | None = None  # shape (rows, classes) for classifiers


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


class OnnxModel:
    """An onnxruntime session plus the manifest that describes its inputs and outputs."""

    def __init__(self, session: Any, manifest: dict, path: Path | None = None):
        self.session = session
        self.manifest = manifest
        self.path = path
        self.inputs = [InputSpec.from_dict(d) for d in manifest["inputs"]]
        self.input_names = [s.name for s in self.inputs]
        self.task: str = manifest["task"]
        self.classes: list | None = manifest.get("classes")
        self.output_names = [o.name for o in session.get_outputs()]
        # onnxruntime's Python run() re-checks the feed on every call (input names, OrtValue
        # ownership, graph capture): about 9 µs, a third of a one-row model. Feeds here are
        # built from the manifest's inputs, so the binding underneath is called when present.
        self._run = getattr(session, "_sess", session).run
        # the allowed categories of each categorical input (read by the small-request checks too)
        self.category_sets = {s.name: set(s.categories) for s in self.inputs if s.categories is not None}
        self.label_codes = False  # True: labels come out as indexes into ``classes`` (see mlctl.onnxmodel.labelcodes)
        self.category_codes: dict[str, dict[str, int]] = {}  # inputs fed as positions in these categories

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", "unknown"))

    @property
    def sha256(self) -> str:
        return self.manifest["sha256"]

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", "model"))

    @classmethod
    def load(
        cls, model_path: str | Path, manifest_path: str | Path | None = None, *, threads: int = 0, codes: bool = False
    ) -> OnnxModel:
        """Read the manifest, check the ONNX file's sha256 against it, then open a session.

        ``codes`` (batch scoring): text goes in and out of onnxruntime as integer codes where the
        graph allows (mlctl.onnxmodel.labelcodes): class indexes for labels, category positions for inputs.
        """
        import onnxruntime as ort

        model_path = Path(model_path)
        manifest_path = Path(manifest_path) if manifest_path else model_path.with_suffix(".json")
        if not model_path.exists():
            raise InputNotFoundError("model file not found", where=str(model_path), hint="run `mlctl export`")
        manifest = read_manifest(manifest_path)
        data = model_path.read_bytes()
        actual = sha256_bytes(data)
        if actual != manifest["sha256"]:
            raise ModelError(
                f"sha256 mismatch: file has {actual[:12]}…, manifest expects {manifest['sha256'][:12]}…",
                where=str(model_path),
                hint="the model file was changed or corrupted; re-run `mlctl export` or `dvc pull`",
            )
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            # no idle threads spinning for work: callers that set threads run calls side by side
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        coded = coded_session(data, manifest, options) if codes else None
        try:
            session = coded[0] if coded else ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"onnxruntime cannot load the model: {exc}", where=str(model_path)) from None
        model = cls(session, manifest, model_path)
        if coded:
            model.use_codes(coded[1], coded[2])
        return model

    def use_codes(self, labels: bool, categories: dict[str, list[str]]) -> None:
        """Declare the graph rewritten by onnxmodel.labelcodes: class indexes out, category positions in."""
        self.label_codes = labels
        self.category_codes = {name: {c: j for j, c in enumerate(cats)} for name, cats in categories.items()}

    # -- inputs ---------------------------------------------------------------------------

    def check(
        self, columns: Mapping[str, Sequence | np.ndarray], n_rows: int, *, unknown: Unknown = "ignore"
    ) -> Checked:
        """Validate raw columns: the one entry point; a few rows of plain lists take the pure-Python checks.

        Both implementations apply the same rules with the same messages (tests/test_onnxmodel_smallcheck.py).
        """
        if n_rows <= SMALL and all(isinstance(c, list) for c in columns.values()):
            missing = [n for n in self.input_names if n not in columns]
            if not missing:
                return check_small(self, columns, n_rows, unknown)
        return self.check_columns(columns, n_rows, unknown=unknown)

    def check_columns(
        self, columns: Mapping[str, Sequence | np.ndarray], n_rows: int, *, unknown: Unknown = "ignore"
    ) -> Checked:
        """Validate raw columns against the input schema; bad rows are reported, not fed."""
        missing = [n for n in self.input_names if n not in columns]
        if missing:
            raise ModelError(f"missing feature(s) {missing}", hint=f"the model takes {self.input_names}")
        ok = np.ones(n_rows, dtype=bool)
        reasons: dict[int, list[str]] = {}
        feeds: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            raw = columns[spec.name]
            if spec.kind == "numeric":
                values, bad = numeric_values(raw, spec)
            else:
                positions = self.category_codes.get(spec.name)
                values, bad = categorical_values(raw, spec, self.category_sets.get(spec.name), unknown, positions)
            for msg, mask in bad:
                idx = np.flatnonzero(mask)
                ok[idx] = False
                for i in idx.tolist():
                    reasons.setdefault(i, []).append(f"{spec.name}: {msg}")
            feeds[spec.name] = values.reshape(-1, 1)
        return Checked(feeds, ok, reasons)

    def check_records(self, records: Sequence[Mapping[str, Any]], *, unknown: Unknown = "ignore") -> Checked:
        """Validate JSON records: extra or missing keys are per-row reasons too."""
        names = self.input_names
        expected = set(names)
        columns = {n: [r.get(n) for r in records] for n in names}
        checked = self.check_columns(columns, len(records), unknown=unknown)
        for i, rec in enumerate(records):
            keys = set(rec)
            for name in sorted(expected - keys):
                checked.reasons.setdefault(i, []).append(f"{name}: {FIELD_REQUIRED}")
                checked.ok[i] = False
            for name in sorted(keys - expected):
                checked.reasons.setdefault(i, []).append(f"{name}: {UNEXPECTED_FIELD}")
                checked.ok[i] = False
        return checked

    # -- scoring --------------------------------------------------------------------------

    def run(self, feeds: Mapping[str, np.ndarray]) -> Prediction:
        """Run onnxruntime on prepared feeds (all rows assumed valid)."""
        outputs = self._run(self.output_names, feeds if isinstance(feeds, dict) else dict(feeds), None)
        labels = outputs[0].reshape(-1) if outputs[0].ndim > 1 and self.task == "regression" else outputs[0]
        probabilities = outputs[1] if self.task == "classification" and len(outputs) > 1 else None
        return Prediction(np.asarray(labels).reshape(-1), probabilities)

    def predict_checked(self, checked: Checked) -> Prediction:
        """Score only the rows that passed validation."""
        if checked.ok.all():
            return self.run(checked.feeds)
        feeds = {k: v[checked.ok] for k, v in checked.feeds.items()}
        return self.run(feeds)


def coded_session(data: bytes, manifest: dict, options: Any) -> tuple[Any, bool, dict[str, list[str]]] | None:
    """A session on the graph with integer codes, whether labels are class indexes, the coded inputs.

    None when nothing could be rewritten (then the graph is used as exported).
    """
    import onnxruntime as ort

    from mlctl.onnxmodel.labelcodes import with_category_codes, with_label_codes

    labels = None
    if manifest.get("task") == "classification" and manifest.get("classes"):
        labels = with_label_codes(data, manifest["classes"])
    inputs = with_category_codes(labels or data)
    if labels is None and inputs is None:
        return None
    try:
        session = ort.InferenceSession(inputs[0] if inputs else labels, options, providers=["CPUExecutionProvider"])
    except Exception:  # anything unexpected in the rewrite: score with the graph as exported
        return None
    return session, labels is not None, inputs[1] if inputs else {}
