"""Vectorised checks of raw model inputs against the manifest's input schema.

Shared by serving (JSON records), batch scoring (Arrow/pandas chunks) and
monitoring: every path encodes and rejects values the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

# reject: an error; ignore: encoded as all zeros (scikit-learn's OneHotEncoder handle_unknown="ignore"),
# whatever the missing level; missing: encoded as the missing category (monitoring's profiles)
Unknown = Literal["reject", "ignore", "missing"]
UNKNOWN_CODE = -1  # a category position that one-hot encodes to all zeros


@dataclass(frozen=True)
class InputSpec:
    """One model input from the manifest."""

    name: str
    kind: Literal["numeric", "categorical"]
    nullable: bool = True
    categories: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InputSpec:
        cats = d.get("categories")
        return cls(
            name=d["name"],
            kind=d["kind"],
            nullable=bool(d.get("nullable", True)),
            categories=tuple(cats) if cats is not None else None,
            min=d.get("min"),
            max=d.get("max"),
        )


# The per-value reasons every input check gives (vectorised, small-request and, in serve, the plain path).
NOT_A_NUMBER = "expected a number"
NOT_A_STRING = "expected a string"
INFINITE = "infinite value not allowed"
MISSING = "missing value not allowed"
UNKNOWN_CATEGORY = "unknown category"
FIELD_REQUIRED = "field required"
UNEXPECTED_FIELD = "unexpected field"

MISSING_CATEGORY = ""


@dataclass(frozen=True)
class Coded:
    """A dictionary-encoded column without pandas: ``categories[codes]``, code -1 for missing."""

    codes: np.ndarray
    categories: np.ndarray


def numeric_values(raw: Sequence | np.ndarray, spec: InputSpec) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Float32 values plus (message, row mask) for each kind of bad value."""
    # A list is read as objects: np.asarray would turn [1.5, "abc"] into strings.
    arr = raw if isinstance(raw, np.ndarray) else np.asarray(raw, dtype=object)
    if arr.ndim != 1:  # a list of equal-length lists (e.g. "x": [1, 2] in JSON) became 2-D
        arr = np.fromiter(raw, dtype=object, count=len(raw))
    bad: list[tuple[str, np.ndarray]] = []
    wrong = np.zeros(len(arr), dtype=bool)
    if arr.dtype.kind in "fiub":
        values = arr.astype(np.float32)
    else:  # object arrays from JSON or text files: numbers, None, or something wrong
        values = _numbers_fast(arr)
        if values is None:
            values, wrong = _numbers_slow(arr)
        if wrong.any():
            bad.append((NOT_A_NUMBER, wrong))
    nan = np.isnan(values)
    inf = np.isinf(values)
    if inf.any():
        bad.append((INFINITE, inf))
    if not spec.nullable and (nan & ~wrong).any():
        bad.append((MISSING, nan & ~wrong))
    return values, bad


def _numbers_fast(arr: np.ndarray) -> np.ndarray | None:
    """Float32 values of an object array holding only numbers and None, else None (use the slow path)."""
    from pandas.api.types import infer_dtype

    if infer_dtype(arr, skipna=True) not in ("floating", "integer", "mixed-integer-float", "boolean", "empty"):
        return None
    null = np.equal(arr, None)
    values = np.full(len(arr), np.nan, dtype=np.float32)
    try:
        values[~null] = arr[~null].astype(np.float64)
    except (TypeError, ValueError):  # e.g. pd.NA: let the per-value path decide
        return None
    return values


def _numbers_slow(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-value parsing for mixed object arrays (rare: a wrong value is present)."""
    values = np.empty(len(arr), dtype=np.float32)
    wrong = np.zeros(len(arr), dtype=bool)
    for i, v in enumerate(arr.tolist()):
        if v is None:
            values[i] = np.nan
        elif isinstance(v, (int, float)):  # bool is an int: True/False score as 1/0
            values[i] = float(v)
        else:
            values[i] = np.nan
            wrong[i] = True
    return values, wrong


def categorical_values(
    raw: Sequence | np.ndarray,
    spec: InputSpec,
    known: set | None,
    unknown: Unknown,
    positions: Mapping[str, int] | None = None,
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """String values ('' for missing) plus (message, row mask) for bad values.

    With ``positions`` (a model fed category positions, see mlctl.onnxmodel.labelcodes) the values
    are each string's position there instead (int64, -1 for none).
    """
    if isinstance(raw, Coded):  # batch scoring: checked without pandas or a string per row
        return _categorical_codes(raw, spec, known, unknown, positions)
    import pandas as pd
    from pandas.api.types import infer_dtype

    if isinstance(getattr(raw, "dtype", None), pd.CategoricalDtype):
        cat = pd.Categorical(raw)
        coded = Coded(np.asarray(cat.codes), np.asarray(cat.categories, dtype=object))
        return _categorical_codes(coded, spec, known, unknown, positions)
    arr = np.asarray(raw, dtype=object)
    if arr.ndim != 1:  # np.asarray turns a list of equal-length lists into 2-D
        arr = np.fromiter(raw, dtype=object, count=len(raw))
    bad: list[tuple[str, np.ndarray]] = []
    if infer_dtype(arr, skipna=True) in ("string", "empty"):  # the usual case, vectorised
        null = np.asarray(pd.isna(arr), dtype=bool)
        values = arr.copy()
        values[null] = MISSING_CATEGORY
        wrong = np.zeros(len(arr), dtype=bool)
    else:
        values, null, wrong = _strings_slow(arr)
    # "" is how the model frame (mlctl.model.features) writes a missing category: missing, not unknown.
    null = null | (values == MISSING_CATEGORY) & ~wrong
    if wrong.any():
        bad.append((NOT_A_STRING, wrong))
    if not spec.nullable and null.any():
        bad.append((MISSING, null))
    if known is not None:
        # a hash lookup (pandas isin), not np.isin's sort: linear in the rows
        unseen = ~null & ~wrong & ~pd.Series(values, dtype=object).isin(known).to_numpy()
        if unseen.any():
            number = unseen & _numbers(arr)
            if number.any():  # a number where a category is expected, and not one of the categories
                bad.append((NOT_A_STRING, number))
                unseen &= ~number
            if unknown == "reject":
                bad.append((UNKNOWN_CATEGORY, unseen))
            elif unknown == "missing":
                values[unseen] = MISSING_CATEGORY
            # ignore: the unknown string itself, which the one-hot encoder encodes as all zeros
    if positions is not None:
        values = np.array([positions.get(v, -1) for v in values.tolist()], dtype=np.int64)
    return values, bad


def _categorical_codes(
    cat: Coded, spec: InputSpec, known: set | None, unknown: Unknown, positions: Mapping[str, int] | None = None
) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """Like categorical_values for coded columns: check the few categories, then index by code.

    Batch scoring passes dictionary-encoded columns this way, so ten million rows
    of strings are checked without touching a Python string per row.
    """
    cats = np.asarray(cat.categories, dtype=object)
    cat_values, cat_null, cat_wrong = _strings_slow(cats)
    cat_null |= (cat_values == MISSING_CATEGORY) & ~cat_wrong  # "" is missing, as in categorical_values
    if known is not None:
        cat_unseen = ~cat_null & ~cat_wrong & ~np.isin(cat_values, list(known))
    else:
        cat_unseen = np.zeros(len(cats), dtype=bool)
    codes = np.asarray(cat.codes)
    idx = np.where(codes < 0, len(cats), codes)  # code -1 (missing) points at an appended ""
    table = np.append(cat_values, MISSING_CATEGORY).astype(object)
    missing: object = MISSING_CATEGORY
    if positions is not None:  # looked up per category, then taken per row like the strings
        table = np.array([positions.get(v, -1) for v in table.tolist()], dtype=np.int64)
        missing = positions.get(MISSING_CATEGORY, -1)
    values = table[idx]
    null = np.append(cat_null, True)[idx]
    wrong = np.append(cat_wrong, False)[idx]
    unseen = np.append(cat_unseen, False)[idx]
    bad: list[tuple[str, np.ndarray]] = []
    if wrong.any():
        bad.append((NOT_A_STRING, wrong))
    if not spec.nullable and null.any():
        bad.append((MISSING, null))
    number = np.append(_numbers(cats) & cat_unseen, False)[idx]
    if number.any():  # a number where a category is expected, and not one of the categories
        bad.append((NOT_A_STRING, number))
        unseen &= ~number
    if unseen.any():
        if unknown == "reject":
            bad.append((UNKNOWN_CATEGORY, unseen))
        elif unknown == "missing":
            values[unseen] = missing
        elif positions is not None:  # ignore: no position, encoded as all zeros
            values[unseen] = UNKNOWN_CODE
    return values, bad


def _numbers(arr: np.ndarray) -> np.ndarray:
    """Which values are numbers or booleans (not NaN): not text, so a category only if one of them."""
    return np.fromiter(
        (isinstance(v, (int, float, np.number, np.bool_)) and v == v for v in arr),
        dtype=bool,
        count=len(arr),
    )


def _strings_slow(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-value conversion for object arrays with numbers, booleans or wrong values."""
    values = np.empty(len(arr), dtype=object)
    null = np.zeros(len(arr), dtype=bool)
    wrong = np.zeros(len(arr), dtype=bool)
    for i, v in enumerate(arr.tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            values[i] = MISSING_CATEGORY
            null[i] = True
        elif isinstance(v, str):
            values[i] = v
        elif isinstance(v, bool):
            values[i] = str(v)
        elif isinstance(v, (int, float)):
            values[i] = str(int(v)) if float(v).is_integer() else str(v)
        else:
            values[i] = MISSING_CATEGORY
            wrong[i] = True
    return values, null, wrong


@dataclass
class Checked:
    """Validated model inputs: feeds for the rows that passed, reasons for those that did not."""

    feeds: dict[str, np.ndarray]
    ok: np.ndarray  # boolean mask over the input rows
    reasons: dict[int, list[str]] = field(default_factory=dict)

    @property
    def n_ok(self) -> int:
        return int(self.ok.sum())
