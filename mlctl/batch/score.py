"""Score one Arrow table: validate against the model's input schema, predict, split out rejects.

The same function runs in the local engine and on Dask workers, so both
produce the same rows. Validation is mlctl.onnxmodel.runtime's (vectorised); this module
only turns Arrow columns into the arrays it takes, without per-row Python on the
usual path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlctl.batch import arrays
from mlctl.batch.csvfiles import FALSE_TOKENS, TRUE_TOKENS, invalid_rows
from mlctl.onnxmodel.inputs import Coded

if TYPE_CHECKING:
    import pyarrow as pa

    from mlctl.onnxmodel.runtime import OnnxModel

ROW = "row_number"
REASON = "reason"
PREDICTION = "prediction"


@dataclass
class Scored:
    """One scored chunk: predictions for the valid rows, the rest as rejects."""

    output: pa.Table
    rejects: pa.Table
    rows_in: int


def proba_columns(model: OnnxModel) -> list[str]:
    return [f"proba_{c}" for c in model.classes or []] if model.task == "classification" else []


def output_schema(model: OnnxModel, passthrough_types: dict[str, pa.DataType]) -> pa.Schema:
    """row_number, the passthrough columns, prediction and (classifiers) proba_<class>."""
    import pyarrow as pa

    label_type = _label_type(model.classes or []) if model.task == "classification" else pa.float32()
    fields = [pa.field(ROW, pa.int64()), *(pa.field(n, t) for n, t in passthrough_types.items())]
    fields.append(pa.field(PREDICTION, label_type))
    fields += [pa.field(n, pa.float32()) for n in proba_columns(model)]
    return pa.schema(fields)


def _label_type(classes: list) -> pa.DataType:
    """The Arrow type of the class labels (as pa.array would infer it, without importing pandas)."""
    import pyarrow as pa

    if classes and all(isinstance(c, bool) for c in classes):
        return pa.bool_()
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return pa.int64()
    if classes and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes):
        return pa.float64()
    return pa.string()


def rejects_schema(value_columns: list[str]) -> pa.Schema:
    """row_number, reason, then the row's values as text (as they were read)."""
    import pyarrow as pa

    return pa.schema(
        [pa.field(ROW, pa.int64()), pa.field(REASON, pa.string())] + [(c, pa.string()) for c in value_columns]
    )


class ChunkScorer:
    """Validates and scores tables for one model, input schema and set of passthrough columns."""

    def __init__(self, model: OnnxModel, passthrough_types: dict[str, pa.DataType], unknown: str = "missing"):
        self.model = model
        self.passthrough = list(passthrough_types)
        self.unknown = unknown
        self.schema = output_schema(model, passthrough_types)
        self.value_columns = list(dict.fromkeys([*self.passthrough, *model.input_names]))
        self.rejects_schema = rejects_schema(self.value_columns)

    @property
    def kinds(self) -> dict[str, str]:
        """Each model feature's kind ("numeric" or "categorical")."""
        return {s.name: s.kind for s in self.model.inputs}

    @property
    def columns(self) -> list[str]:
        """The input columns a table must hold."""
        return self.value_columns

    def score(self, table: pa.Table, start: int) -> Scored:
        """Score ``table`` whose first row is row ``start`` of the whole input."""
        import pyarrow as pa

        n = table.num_rows
        raw = {s.name: to_raw(table.column(s.name), s.kind) for s in self.model.inputs}
        checked = self.model.check_columns(raw, n, unknown=self.unknown)  # type: ignore[arg-type]
        for i, reason in invalid_rows(table).items():  # CSV rows that could not be parsed: rejects
            checked.ok[i] = False
            checked.reasons[i] = [reason]
        rows = np.arange(start, start + n, dtype=np.int64)
        ok = checked.ok
        all_ok = bool(ok.all())
        good = table if all_ok else table.filter(arrays.from_numpy(ok))
        columns: list = [arrays.from_numpy(rows if all_ok else rows[ok])]
        columns += [good.column(c) for c in self.passthrough]
        if checked.n_ok:
            pred = self.model.predict_checked(checked)
            if self.model.label_codes:
                columns.append(arrays.coded_labels(pred.labels, self.model.classes or []))
            else:
                columns.append(arrays.labels(pred.labels, self.model.classes))
            if self.model.task == "classification":
                proba = np.asarray(pred.probabilities, dtype=np.float32)
                columns += [arrays.from_numpy(proba[:, j]) for j in range(proba.shape[1])]
        else:
            columns += [pa.nulls(0, f.type) for f in self.schema][len(columns) :]
        output = pa.Table.from_arrays(columns, schema=None, names=self.schema.names).cast(self.schema)
        return Scored(output, self._rejects(table, rows, ok, checked.reasons), n)

    def _rejects(self, table: pa.Table, rows: np.ndarray, ok: np.ndarray, reasons: dict[int, list[str]]) -> pa.Table:
        import pyarrow as pa

        bad = np.flatnonzero(~ok)
        if len(bad) == 0:
            return pa.Table.from_batches([], self.rejects_schema)  # not empty_table(): it imports pandas
        subset = table.take(pa.array(bad))
        arrays = [pa.array(rows[bad]), pa.array(["; ".join(reasons[i]) for i in bad.tolist()], pa.string())]
        arrays += [as_text(subset.column(c)) for c in self.value_columns]
        return pa.Table.from_arrays(arrays, schema=self.rejects_schema)


def as_text(col: pa.ChunkedArray) -> pa.Array:
    """A column as text for the rejects file (nested values as their Python repr)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(col, pa.string()).combine_chunks()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())


def to_raw(col: pa.ChunkedArray, kind: str) -> np.ndarray | Coded:
    """An Arrow column as what mlctl.onnxmodel.runtime checks: floats for numbers, codes or objects otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_dictionary(t):
        if kind == "categorical" and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
            return _coded(col)
        col = pc.cast(col, t.value_type)
        t = col.type
    if kind == "numeric":
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t):
            return arrays.floats(col)  # nulls become NaN
        if pa.types.is_null(t):
            return np.full(len(col), np.nan)
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return _parse_numbers(col)
        return _objects(col)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t):
        # dictionary-encoded: the runtime checks the few distinct values, not every row
        return _coded(pc.dictionary_encode(pc.cast(col, pa.string())))
    if pa.types.is_null(t):
        return np.full(len(col), None, dtype=object)
    return _objects(col)  # floats (1.0 is category "1"), booleans, anything else: runtime decides


def _coded(col: pa.ChunkedArray) -> Coded:
    """A dictionary-encoded text column as codes into its distinct values (-1 for missing)."""
    codes, values = arrays.codes(col)
    return Coded(codes, np.asarray(values, dtype=object))


def _objects(col: pa.ChunkedArray) -> np.ndarray:
    out = np.empty(len(col), dtype=object)
    out[:] = col.to_pylist()
    return out


def _parse_numbers(col: pa.ChunkedArray) -> np.ndarray:
    """Numbers written as text (CSV): parsed in C; unparseable values stay text and are rejected."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return arrays.floats(col)
    except pa.ArrowInvalid:
        pass
    # booleans written as text score as 1/0, as pandas.read_csv reads them at training time
    col = pc.if_else(
        pc.is_in(col, pa.array(TRUE_TOKENS)), "1", pc.if_else(pc.is_in(col, pa.array(FALSE_TOKENS)), "0", col)
    )
    try:
        return arrays.floats(col)
    except pa.ArrowInvalid:  # some value is not a plain number: find which, vectorised
        text = col.to_numpy(zero_copy_only=False)
        parsed = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        out = parsed.astype(object)
        null = pd.isna(text)
        out[null] = None
        unparsed = np.isnan(parsed) & ~null
        out[unparsed] = text[unparsed]
        return out


@contextlib.contextmanager
def frozen_gc() -> Iterator[None]:
    """Keep what is alive before the job (libraries, params) out of the collector's scans during it.

    The job allocates steadily; each full collection would walk every object of pandas,
    pyarrow and pydantic again (a few % of a CSV job). Left alone if someone froze already.
    """
    import gc

    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
