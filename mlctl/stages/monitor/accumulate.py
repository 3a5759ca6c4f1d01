"""Streaming state of the current data: exact counts, per-window counts, and fixed-size samples.

Each chunk is reduced to bin codes and added to exact histograms (PSI,
chi-square, windows); a uniform reservoir of rows (the k smallest random keys
seen, which merges chunk by chunk) feeds KS/Wasserstein and the skew check;
a second reservoir keeps labelled rows for the performance metrics.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from mlctl.model.features import MISSING_CATEGORY, categorical_strings
from mlctl.stages.monitor.reference import Reference, numeric_values, score_with_proba
from mlctl.stages.monitor.reservoir import Reservoir
from mlctl.stages.monitor.windows import Window, window_starts

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.onnxmodel.runtime import OnnxModel

PRED = "__prediction"  # the sample's prediction column (served, or scored here)


class Accumulator:
    """Adds chunks of current data (already filtered to the served version) into the state."""

    def __init__(
        self,
        ref: Reference,
        model: OnnxModel,
        *,
        present: list[str],
        target: str,
        labels: pd.Series | None,
        window: str | None,
        timestamp: str,
        sample_rows: int,
        seed: int,
        raw_columns: list[str] | None = None,
    ):
        self.ref, self.model = ref, model
        self._specs = {spec.name: spec for spec in model.inputs}
        self.present = [f for f in ref.features if f.name in present]
        self.scorable = len(self.present) == len(ref.features)
        self.task, self.classes = model.task, [str(c) for c in (model.classes or [])]
        self.target, self.labels, self.window, self.timestamp = target, labels, window, timestamp
        rng = np.random.default_rng(seed)
        self.sample = Reservoir(sample_rows, rng)
        self.labelled = Reservoir(sample_rows, rng)
        # the same rows as `sample`, as they came (for the pandera schema of `mlctl validate`)
        self.raw = Reservoir(sample_rows, rng)
        self.raw_columns = raw_columns or []
        self.rows = 0
        self.counts = {f.name: np.zeros(ref.bins[f.name].size, dtype=np.int64) for f in self.present}
        self.pred_counts = np.zeros(ref.pred_bins.size, dtype=np.int64) if ref.pred_bins else None
        self.invalid: Counter = Counter()  # "feature: reason" -> rows (the runtime's input checks)
        self.invalid_rows = 0
        self.out_of_range: Counter = Counter()
        self.health = Counter()  # nan/infinite predictions and probabilities, unknown classes
        self.unlabelled_unknown = 0  # labels that are not a known class
        self.windows: dict[int, Window] = {}
        self.served = False  # the data carried predictions (logs or batch outputs)
        self.has_proba = False
        self.has_timestamp = False

    # -- one chunk ----------------------------------------------------------------------

    def add(self, chunk: pd.DataFrame) -> None:
        """Reduce one chunk to codes and counts; build model-frame rows only for the sampled ones."""
        from mlctl.model.features import to_model_frame

        n = len(chunk)
        self.rows += n
        chunk = chunk.reset_index(drop=True)
        w_keys, w_inv = self._windows(chunk)
        codes = {}
        for f in self.present:
            b = self.ref.bins[f.name]
            if f.kind == "numeric":
                values = numeric_values(chunk[f.name])
                codes[f.name] = c = b.codes(values)
                self._range(f.name, values)
            else:
                codes[f.name] = c = b.column_codes(chunk[f.name])
            self.counts[f.name] += np.bincount(c, minlength=b.size)
            if w_keys is not None:
                self._window_add(w_keys, w_inv, c, b.size, f.name)
        X = None if "prediction" in chunk.columns or not self.scorable else to_model_frame(chunk, self.present)
        self._quality(chunk, codes, n)
        pred_codes, pred_at, proba = self._predictions(chunk, X)
        if self.pred_counts is not None:
            self.pred_counts += np.bincount(pred_codes, minlength=self.ref.pred_bins.size)
            if w_keys is not None:
                self._window_add(w_keys, w_inv, pred_codes, self.ref.pred_bins.size, None)
        if w_keys is not None:
            self._window_rows(chunk, w_keys, w_inv, pred_at)
        idx, keys = self.sample.offer(n)
        if len(idx):
            rows = X.iloc[idx] if X is not None else to_model_frame(chunk.iloc[idx], self.present)
            rows = rows.assign(**{PRED: pred_at(idx)}, **self._proba_columns(proba, idx))
            self.sample.add(rows, keys)
            raw = [c for c in self.raw_columns if c in chunk.columns]
            if raw:
                self.raw.add(chunk.iloc[idx][raw], keys)  # equal keys: the two samples keep the same rows
        self._labels(chunk, pred_at, proba, w_keys, w_inv)

    def _range(self, name: str, values: np.ndarray) -> None:
        """Count values outside the training range (the manifest's min/max)."""
        spec = self._specs[name]
        low = int(np.sum(values < spec.min)) if spec.min is not None else 0
        high = int(np.sum(values > spec.max)) if spec.max is not None else 0
        if low + high:
            self.out_of_range[name] += low + high

    def _proba_columns(self, proba: np.ndarray | None, idx: np.ndarray) -> dict[str, np.ndarray]:
        if proba is None:
            return {}
        return {f"proba_{c}": proba[idx, i] for i, c in enumerate(self.classes)}

    def _windows(self, chunk: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray | None]:

        if not self.window or self.timestamp not in chunk.columns:
            return None, None
        self.has_timestamp = True
        return np.unique(window_starts(chunk[self.timestamp], self.window), return_inverse=True)

    def _window(self, key: int) -> Window:
        win = self.windows.get(key)
        if win is None:
            win = self.windows[key] = Window()
        return win

    def _window_add(self, keys, inv, codes, size: int, name: str | None) -> None:
        per = np.bincount(inv * size + codes, minlength=len(keys) * size).reshape(len(keys), size)
        for i, key in enumerate(keys.tolist()):
            win = self._window(key)
            if name is None:
                win.pred_counts = per[i] if win.pred_counts is None else win.pred_counts + per[i]
            else:
                win.counts[name] = per[i] + win.counts.get(name, 0)

    def _window_rows(self, chunk, keys, inv, pred_at) -> None:
        rows = np.bincount(inv, minlength=len(keys))
        pred_sum = None
        if self.task == "regression":
            pred = np.asarray(pred_at(np.arange(len(chunk))), dtype="float64")
            pred_sum = np.bincount(inv, weights=np.nan_to_num(pred), minlength=len(keys))
        lat = None
        if "latency_ms" in chunk.columns:
            values = chunk["latency_ms"].to_numpy(dtype="float64", na_value=np.nan)
            ok = np.isfinite(values)
            lat = (
                np.bincount(inv[ok], weights=values[ok], minlength=len(keys)),
                np.bincount(inv[ok], minlength=len(keys)),
            )
        for i, key in enumerate(keys.tolist()):
            win = self._window(key)
            win.rows += int(rows[i])
            if pred_sum is not None:
                win.pred_sum += float(pred_sum[i])
            if lat is not None:
                win.latency_sum += float(lat[0][i])
                win.latency_rows += int(lat[1][i])

    # -- quality, predictions, labels ---------------------------------------------------

    def _quality(self, chunk: pd.DataFrame, codes: dict[str, np.ndarray], n: int) -> None:
        """The runtime's per-input checks (types, infinities, required values), feature by feature.

        Text columns already reduced to codes are checked from them (a missing value
        is the missing bin, a wrong type cannot occur); absent features are
        reported once as schema skew, not once per row.
        """
        import pandas as pd

        from mlctl.onnxmodel.inputs import categorical_values, numeric_values

        bad = np.zeros(n, dtype=bool)
        for spec in self.model.inputs:
            if spec.name not in chunk.columns:
                continue
            col = chunk[spec.name]
            if spec.kind == "numeric":
                _, problems = numeric_values(col.to_numpy(dtype=None if col.dtype.kind in "fiub" else object), spec)
            elif pd.api.types.is_string_dtype(col.dtype) and not pd.api.types.is_object_dtype(col.dtype):
                missing = codes[spec.name] == self.ref.bins[spec.name].missing_bin
                problems = [("missing value not allowed", missing)] if not spec.nullable and missing.any() else []
            else:
                _, problems = categorical_values(col.to_numpy(dtype=object), spec, None, "missing")
            for message, mask in problems:
                self.invalid[f"{spec.name}: {message}"] += int(mask.sum())
                bad |= mask
        self.invalid_rows += int(bad.sum())

    def _predictions(self, chunk: pd.DataFrame, X: pd.DataFrame | None):
        """Codes of the served (or, without a prediction column, freshly scored) predictions.

        Returns (codes over all rows, a function giving the predictions at row positions, probabilities).
        """
        bins = self.ref.pred_bins
        cols = [f"proba_{c}" for c in self.classes]
        n = len(chunk)
        if "prediction" in chunk.columns:
            self.served = True
            raw = chunk["prediction"]
            proba = None
            if self.classes and all(c in chunk.columns for c in cols):
                self.has_proba = True
                proba = chunk[cols].to_numpy(dtype="float64", na_value=np.nan)
            if self.task == "classification":
                codes = bins.column_codes(raw)
                self.health["unknown_class_predictions"] += int((codes == bins.other_bin).sum())
                self.health["missing_predictions"] += int((codes == bins.missing_bin).sum())
                self._proba_health(proba)
                return codes, lambda idx: categorical_strings(raw.iloc[idx]), proba
            values = raw.to_numpy(dtype="float64", na_value=np.nan)
            self._value_health(values)
            return bins.codes(values), lambda idx: values[idx], None
        if X is None:  # features missing and nothing logged: no prediction to judge
            empty = np.full(n, MISSING_CATEGORY, dtype=object) if self.task == "classification" else np.full(n, np.nan)
            return bins.codes(empty), lambda idx: empty[idx], None
        pred, proba = score_with_proba(self.model, X)
        self.has_proba = proba is not None
        if self.task == "classification":
            self._proba_health(proba)
        else:
            self._value_health(pred)
        return bins.codes(pred), lambda idx: pred[idx], proba

    def _value_health(self, values: np.ndarray) -> None:
        self.health["nan_predictions"] += int(np.isnan(values).sum())
        self.health["infinite_predictions"] += int(np.isinf(values).sum())

    def _proba_health(self, proba: np.ndarray | None) -> None:
        if proba is not None:
            self.health["nan_probabilities"] += int(np.isnan(proba).any(axis=1).sum())
            self.health["infinite_probabilities"] += int(np.isinf(proba).any(axis=1).sum())

    def _labels(self, chunk: pd.DataFrame, pred_at, proba, keys, inv) -> None:
        import pandas as pd

        if self.target in chunk.columns:
            y = chunk[self.target]
        elif self.labels is not None and "request_id" in chunk.columns:
            y = chunk["request_id"].astype("string").map(self.labels)
        else:
            return
        have = np.flatnonzero(y.notna().to_numpy())
        if not len(have):
            return
        y = y.iloc[have]
        pred = pred_at(have)
        if self.task == "classification":
            truth = categorical_strings(y)
            known = np.isin(truth, np.asarray(self.classes, dtype=object))
            self.unlabelled_unknown += int((~known).sum())
            have, truth, pred = have[known], truth[known], pred[known]
            hit = (pred == truth).astype("float64")
        else:
            truth = pd.to_numeric(y, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            hit = np.abs(pred.astype("float64") - truth)
        pos, lkeys = self.labelled.offer(len(have))
        part = pd.DataFrame({PRED: pred[pos], "__y": truth[pos], **self._proba_columns(proba, have[pos])})
        self.labelled.add(part, lkeys)
        if keys is not None:
            idx = inv[have]
            counts = np.bincount(idx, minlength=len(keys))
            sums = np.bincount(idx, weights=np.nan_to_num(hit), minlength=len(keys))
            for i, key in enumerate(keys.tolist()):
                win = self._window(key)
                win.labelled += int(counts[i])
                if self.task == "classification":
                    win.correct += int(sums[i])
                else:
                    win.abs_error += float(sums[i])
