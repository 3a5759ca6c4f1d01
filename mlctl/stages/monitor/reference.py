"""The reference side: bins per feature from the training split, and its predictions.

Every feature gets fixed bins from the reference — quantile edges for numbers,
the reference levels for categories — plus a bin for missing values (and one
for unseen levels), so current data is reduced to integer codes and exact
counts that add up chunk by chunk and window by window.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlctl.data.drift import bin_edges, numeric_codes
from mlctl.model.features import MISSING_CATEGORY, Feature

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.onnxmodel.runtime import OnnxModel

MAX_LEVELS = 1000  # more reference levels than this: the rarest share the "(other)" bin


@dataclass
class Bins:
    """Fixed bins of one feature (or of the predictions)."""

    name: str
    kind: str  # numeric | categorical
    edges: np.ndarray | None = None  # numeric
    levels: list[str] | None = None  # categorical: reference levels, then (missing), (other)
    _index: Any = None
    _pa_levels: Any = None

    @classmethod
    def numeric(cls, name: str, values: np.ndarray, bins: int) -> Bins:
        return cls(name, "numeric", edges=bin_edges(np.asarray(values, dtype="float64"), bins))

    @classmethod
    def categorical(cls, name: str, values: np.ndarray, levels: list[str] | None = None) -> Bins:
        import pandas as pd

        if levels is None:
            counts = pd.Series(values, dtype=object).value_counts()
            levels = [str(v) for v in counts.index if v != MISSING_CATEGORY][:MAX_LEVELS]
        return cls(name, "categorical", levels=list(levels), _index=pd.Index(levels, dtype=object))

    @property
    def size(self) -> int:
        if self.kind == "numeric":
            return len(self.edges) + 2  # value bins + missing
        return len(self.levels) + 2  # levels + missing + other

    @property
    def missing_bin(self) -> int:
        return self.size - 1 if self.kind == "numeric" else len(self.levels)

    @property
    def other_bin(self) -> int | None:
        return None if self.kind == "numeric" else len(self.levels) + 1

    def codes(self, values: np.ndarray) -> np.ndarray:
        """The bin of each value (model-frame values: floats with NaN, or strings with '')."""
        if self.kind == "numeric":
            return numeric_codes(np.asarray(values, dtype="float64"), self.edges)
        codes = self._index.get_indexer(values)
        codes[codes < 0] = self.other_bin
        codes[values == MISSING_CATEGORY] = self.missing_bin
        return codes

    def column_codes(self, col: pd.Series) -> np.ndarray:
        """Codes straight from a raw column; text columns go through pyarrow's hash lookup."""
        import pandas as pd

        from mlctl.model.features import categorical_strings

        if self.kind == "numeric":
            return self.codes(numeric_values(col))
        if not pd.api.types.is_string_dtype(col.dtype) or pd.api.types.is_object_dtype(col.dtype):
            return self.codes(categorical_strings(col))
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(col)  # zero-copy for pandas' arrow-backed strings
        if self._pa_levels is None or self._pa_levels.type != arr.type:
            self._pa_levels = pa.array(self.levels, type=arr.type)
        codes = pc.index_in(arr, value_set=self._pa_levels).fill_null(self.other_bin)
        codes = codes.to_numpy(zero_copy_only=False).astype(np.int64)
        missing = pc.or_kleene(pc.is_null(arr), pc.equal(arr, MISSING_CATEGORY)).fill_null(True)
        codes[missing.to_numpy(zero_copy_only=False)] = self.missing_bin
        return codes

    def counts(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes(values), minlength=self.size)

    def labels(self) -> list[str]:
        """A readable name per bin, for tables and plots."""
        if self.kind == "categorical":
            return [*self.levels, "(missing)", "(other)"]
        e = self.edges
        if e.size == 0:
            return ["all", "(missing)"]
        names = [f"≤{e[0]:.3g}"] + [f"{a:.3g}–{b:.3g}" for a, b in itertools.pairwise(e)]
        return [*names, f">{e[-1]:.3g}", "(missing)"]


def numeric_values(col: pd.Series) -> np.ndarray:
    """A raw column as the model frame has it: float64 of float32-rounded numbers, NaN when missing."""
    import pandas as pd

    values = pd.to_numeric(col.astype("float64") if col.dtype == bool else col, errors="coerce")
    return values.to_numpy(dtype="float64", na_value=np.nan).astype("float32").astype("float64")


@dataclass
class Reference:
    """The reference profile the current data is compared with."""

    features: list[Feature]
    bins: dict[str, Bins]
    counts: dict[str, np.ndarray]
    sample: pd.DataFrame  # model-frame rows (at most sample_rows)
    rows: int
    pred_bins: Bins | None = None
    pred_counts: np.ndarray | None = None
    pred_values: np.ndarray | None = None  # regression: predictions of the sample rows


def features_of(manifest: dict) -> list[Feature]:
    """The model's features from its manifest's input schema."""
    return [Feature(d["name"], d["kind"]) for d in manifest["inputs"]]


def build_reference(
    df: pd.DataFrame, features: list[Feature], bins: int, sample_rows: int, seed: int, model: OnnxModel | None
) -> Reference:
    """Bin the reference frame, keep a sample of it, and score it with the model for prediction drift."""
    from mlctl.model.features import to_model_frame

    X = to_model_frame(df, features)
    ref_bins, ref_counts = {}, {}
    for f in features:
        values = X[f.name].to_numpy()
        b = Bins.numeric(f.name, values, bins) if f.kind == "numeric" else Bins.categorical(f.name, values)
        ref_bins[f.name], ref_counts[f.name] = b, b.counts(values)
    sample = X.sample(n=sample_rows, random_state=seed) if len(X) > sample_rows else X
    ref = Reference(features, ref_bins, ref_counts, sample.reset_index(drop=True), len(X))
    if model is not None:
        labels = score_frame(model, ref.sample)
        if model.task == "classification":
            ref.pred_bins = Bins.categorical("prediction", labels, [str(c) for c in model.classes or []])
            ref.pred_counts = ref.pred_bins.counts(labels)
        else:
            values = labels.astype("float64")
            ref.pred_bins = Bins.numeric("prediction", values, bins)
            ref.pred_counts, ref.pred_values = ref.pred_bins.counts(values), values
    return ref


def score_frame(model: OnnxModel, X: pd.DataFrame) -> np.ndarray:
    """Model labels (as str for classifiers) or values for a model frame; invalid rows get ''/NaN."""
    pred, _ = score_with_proba(model, X)
    return pred


def score_with_proba(model: OnnxModel, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels/values and class probabilities (rows × classes, NaN for invalid rows)."""
    n = len(X)
    checked = model.check_columns({c: X[c].to_numpy() for c in model.input_names}, n, unknown="missing")
    result = model.predict_checked(checked) if checked.n_ok else None
    if model.task == "classification":
        pred = np.full(n, MISSING_CATEGORY, dtype=object)
        proba = np.full((n, len(model.classes or [])), np.nan)
        if result is not None:
            pred[checked.ok] = [str(v) for v in result.labels.tolist()]
            if result.probabilities is not None:
                proba[checked.ok] = result.probabilities
        return pred, proba
    pred = np.full(n, np.nan)
    if result is not None:
        pred[checked.ok] = result.labels.astype("float64")
    return pred, None
