"""Does the ONNX model compute what the scikit-learn pipeline computes? Row by row, measured."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.onnxmodel.runtime import OnnxModel


@dataclass
class Parity:
    """scikit-learn vs onnxruntime on the same rows.

    Differences are scaled as ``|onnx - sklearn| / max(1, |sklearn|)``: absolute
    for probabilities and small values, relative for large regression values,
    whose float32 arithmetic in ONNX is only good to ~7 significant digits.
    """

    rows: int
    tolerance: float
    max_abs_diff: float
    max_scaled_diff: float
    label_agreement: float | None  # classification only: share of rows with the same label
    min_label_agreement: float | None
    disagreements: int  # different labels where scikit-learn's choice was not a tie
    worst_row: Any  # index label of the row with the largest scaled difference
    worst_column: str | None  # class (probabilities), 'value' (regression)
    outputs: str  # what was compared: probabilities, decision scores or values
    rows_outside_schema: int = 0  # rows serving would reject (still compared here)
    # Different labels where scikit-learn's top scores tie within the tolerance (e.g. a
    # forest's 50/100 votes): float32 sums break such ties either way, so they do not
    # count against label agreement.
    tied_disagreements: int = 0

    @property
    def passed(self) -> bool:
        if self.max_scaled_diff > self.tolerance:
            return False
        if self.label_agreement is None:
            return True
        return 1.0 - self.disagreements / max(self.rows, 1) >= (self.min_label_agreement or 1.0)

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}

    def describe(self) -> str:
        """One line for messages: agreement and the worst difference, and where."""
        parts = [f"{self.rows} rows"]
        if self.label_agreement is not None:
            ties = f", {self.tied_disagreements} more on tied scores" if self.tied_disagreements else ""
            parts.append(
                f"labels differ on {self.disagreements} rows{ties}: agreement {self.label_agreement:.4%} "
                f"(need {self.min_label_agreement:.4%} beyond ties)"
            )
        parts.append(
            f"worst {self.outputs} difference {self.max_scaled_diff:.3g} (tolerance {self.tolerance:g}) "
            f"at row {self.worst_row}, column {self.worst_column!r}"
        )
        return ", ".join(parts)


def sklearn_outputs(pipeline: Any, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Labels (or values), scores as [rows, k] (or None), and what the scores are."""
    labels = np.asarray(pipeline.predict(X))
    if not hasattr(pipeline, "classes_"):
        return labels.reshape(-1), None, "values"
    if hasattr(pipeline, "predict_proba"):
        return labels, np.asarray(pipeline.predict_proba(X), dtype=np.float64), "probabilities"
    if hasattr(pipeline, "decision_function"):
        scores = np.asarray(pipeline.decision_function(X), dtype=np.float64)
        return labels, scores.reshape(len(X), -1), "decision scores"
    return labels, None, "labels"


def label_key(values: np.ndarray) -> np.ndarray:
    """Labels as comparable strings (ONNX returns int64 for bool or int classes)."""
    return np.asarray([str(int(v)) if isinstance(v, (bool, np.bool_)) else str(v) for v in values.tolist()])


def feeds_for(model: OnnxModel, X: pd.DataFrame):
    """The onnxruntime inputs for a model frame, built by the runtime exactly as serving builds them.

    ``unknown="reject"`` leaves unseen categories as they are (so the ONNX
    encoder sees what scikit-learn's saw) and only marks the rows.
    """
    columns = {name: X[name].to_numpy() for name in model.input_names}
    return model.check_columns(columns, len(X), unknown="reject")


def compare(
    pipeline: Any,
    model: OnnxModel,
    X: pd.DataFrame,
    *,
    tolerance: float,
    label_agreement: float,
) -> Parity:
    """Score ``X`` with both and measure agreement; every row is compared."""
    checked = feeds_for(model, X)
    pred = model.run(checked.feeds)
    labels, scores, what = sklearn_outputs(pipeline, X)
    classes = getattr(pipeline, "classes_", None)
    if classes is None:
        ref = labels.astype(np.float64)
        got = np.asarray(pred.labels, dtype=np.float64).reshape(-1)
        names = ["value"]
        ref, got = ref.reshape(-1, 1), got.reshape(-1, 1)
        agreement, ties = None, 0
        disagreements = int((~np.isclose(got, ref, rtol=tolerance, atol=tolerance)).sum())
    else:
        same = label_key(np.asarray(pred.labels)) == label_key(labels)
        agreement = float(same.mean()) if len(same) else 1.0
        tied = _tied(~same, labels, np.asarray(pred.labels), classes, scores, tolerance)
        ties, disagreements = int(tied.sum()), int((~same & ~tied).sum())
        ref = scores if scores is not None else np.zeros((len(X), 1))
        got = pred.probabilities if scores is not None and pred.probabilities is not None else np.zeros_like(ref)
        got = np.asarray(got, dtype=np.float64).reshape(ref.shape)
        names = [str(c) for c in classes] if ref.shape[1] == len(classes) else [str(classes[-1])]
    diff = np.abs(got - ref)
    diff[np.isnan(got) != np.isnan(ref)] = np.inf  # NaN on one side only is a real difference
    diff[np.isnan(got) & np.isnan(ref)] = 0.0
    scaled = diff / np.maximum(1.0, np.abs(np.nan_to_num(ref)))
    if scaled.size:
        r, c = np.unravel_index(int(np.argmax(scaled)), scaled.shape)
        worst_row, worst_col, max_scaled, max_abs = X.index[r], names[c], float(scaled[r, c]), float(diff.max())
    else:
        worst_row, worst_col, max_scaled, max_abs = None, None, 0.0, 0.0
    return Parity(
        rows=len(X),
        tolerance=tolerance,
        max_abs_diff=max_abs,
        max_scaled_diff=max_scaled,
        label_agreement=agreement,
        min_label_agreement=label_agreement if agreement is not None else None,
        disagreements=disagreements,
        worst_row=worst_row.item() if hasattr(worst_row, "item") else worst_row,
        worst_column=worst_col,
        outputs=what,
        rows_outside_schema=int((~checked.ok).sum()),
        tied_disagreements=ties,
    )


def _tied(
    differ: np.ndarray, ref_labels: np.ndarray, got_labels: np.ndarray, classes, scores, tolerance: float
) -> np.ndarray:
    """Rows whose labels differ only because scikit-learn's scores for the two labels tie."""
    tied = np.zeros(len(differ), dtype=bool)
    if scores is None or not differ.any():
        return tied
    keys = {k: i for i, k in enumerate(label_key(np.asarray(classes)).tolist())}
    for r in np.flatnonzero(differ):
        i = keys.get(label_key(ref_labels[r : r + 1])[0])
        j = keys.get(label_key(got_labels[r : r + 1])[0])
        if i is None or j is None:
            continue  # ONNX answered a label scikit-learn does not know: a real difference
        if scores.shape[1] == len(classes):
            a, b = scores[r, i], scores[r, j]
        elif scores.shape[1] == 1:  # a binary decision score: the tie is at 0
            a, b = scores[r, 0], 0.0
        else:
            continue
        tied[r] = abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))
    return tied
