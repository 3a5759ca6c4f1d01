"""Validate request rows against the model's schema, score them, and shape the answers.

Shared by /predict, /invocations and the V2 routes. Errors are lists of
(loc, msg) pairs, capped in number and in the length of any echoed name, so a
bad payload is never reflected back whole.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mlctl.onnxmodel.inputs import FIELD_REQUIRED, UNEXPECTED_FIELD
from mlctl.onnxmodel.runtime import Checked, Prediction
from mlctl.onnxmodel.smallcheck import SMALL
from mlctl.serve.state import Served

MAX_ERRORS = 20
MAX_NAME = 64


class InputError(Exception):
    """A request the model cannot score; ``errors`` are (loc, msg) pairs."""

    def __init__(self, errors: list[tuple[tuple, str]], status: int = 422):
        super().__init__(errors[0][1] if errors else "invalid input")
        self.errors = errors
        self.status = status

    def detail(self) -> list[dict]:
        shown = [{"loc": list(loc), "msg": msg} for loc, msg in self.errors[:MAX_ERRORS]]
        if len(self.errors) > MAX_ERRORS:
            shown.append({"loc": [], "msg": f"... and {len(self.errors) - MAX_ERRORS} more errors"})
        return shown

    def message(self) -> str:
        parts = [("/".join(str(p) for p in loc) + ": " if loc else "") + msg for loc, msg in self.errors[:5]]
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        return "; ".join(parts) + more


def short(name: Any) -> str:
    """A client-supplied name, cut short for error messages."""
    text = str(name)
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"


BOOLEAN_TEXT = {"true": 1.0, "false": 0.0}


def parse_number(text: Any) -> Any:
    """A number from text (CSV, BYTES tensors): '' and 'nan' are missing, true/false are 1/0.

    Text that is not a number is returned as is, so validation reports "expected a number".
    """
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    if stripped == "":
        return None
    if stripped.lower() in BOOLEAN_TEXT:
        return BOOLEAN_TEXT[stripped.lower()]
    try:
        value = float(stripped)
    except ValueError:
        return text
    return None if value != value else value  # NaN is missing


class _NotAScalar:
    """Stands in for a list or object sent where a feature value belongs (reported as the wrong type)."""


NOT_A_SCALAR = _NotAScalar()


def scalars(columns: dict) -> dict:
    """Columns with nested lists/objects replaced: numpy would otherwise build 2-D arrays from them."""
    out = {}
    for name, col in columns.items():
        if isinstance(col, list) and any(isinstance(v, (list, dict)) for v in col):
            col = [NOT_A_SCALAR if isinstance(v, (list, dict)) else v for v in col]
        out[name] = col
    return out


def check_count(n: int, max_rows: int, where: str) -> None:
    if n == 0:
        raise InputError([((where,), "at least one row is required")])
    if n > max_rows:
        raise InputError([((where,), f"too many rows: {n} > serve.max_rows = {max_rows}; split the request")], 413)


def extra_fields(served: Served, data: Any) -> list[str]:
    """Names in records (a list of objects) or columns (an object) that the model has no input for."""
    name_set = served.name_set
    seen: dict[str, None] = {}
    for rec in data if isinstance(data, list) else [data]:
        if isinstance(rec, dict) and not name_set.issuperset(rec):
            seen.update((str(k), None) for k in rec if k not in name_set)
    return list(seen)


def drop_extra(served: Served, data: Any) -> Any:
    """Records or columns without the fields the model has no input for (the ``ignore`` policy)."""
    name_set = served.name_set
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k in name_set}
    if isinstance(data, list):
        return [
            {k: v for k, v in r.items() if k in name_set} if isinstance(r, dict) and not name_set.issuperset(r) else r
            for r in data
        ]
    return data


def validate_records(
    served: Served, records: Any, unknown: str, max_rows: int, where: str, extra: str = "reject"
) -> tuple[Checked, dict]:
    """Check a list of JSON objects; returns the validated feeds and the raw columns (for the log).

    ``extra="ignore"``: fields the model has no input for are dropped instead of rejected.
    """
    if not isinstance(records, list):
        raise InputError([((where,), "expected a list of objects, one per row")])
    check_count(len(records), max_rows, where)
    bad = [((where, i), "expected an object") for i, r in enumerate(records) if not isinstance(r, dict)]
    if bad:
        raise InputError(bad)
    if extra == "ignore":
        records = drop_extra(served, records)
    names = served.names
    columns = {n: [r.get(n) for r in records] for n in names}
    checked = check(served, columns, len(records), unknown)
    errors = []
    missing: set[tuple[int, str]] = set()
    n_names = len(names)
    name_set = served.name_set
    for i, rec in enumerate(records):
        if len(rec) == n_names and name_set.issuperset(rec):
            continue
        for name in names:
            if name not in rec:
                missing.add((i, name))
                errors.append(((where, i, name), FIELD_REQUIRED))
        for name in rec:
            if name not in name_set:
                errors.append(((where, i, short(name)), UNEXPECTED_FIELD))
    # an absent field is reported once, as absent, not also as a missing value
    errors += [e for e in _row_errors(checked, where) if (e[0][1], e[0][2]) not in missing]
    if errors:
        raise InputError(sorted(errors, key=lambda e: e[0][1]))
    return checked, columns


def validate_columns(
    served: Served, columns: dict, n: int, unknown: str, max_rows: int, where: str, extra: str = "reject"
) -> Checked:
    """Check column-wise input (dataframe_split, CSV, V2 tensors) of ``n`` rows."""
    check_count(n, max_rows, where)
    if extra == "ignore":
        columns = drop_extra(served, columns)
    errors = [((where, name), FIELD_REQUIRED) for name in served.names if name not in columns]
    errors += [((where, short(name)), UNEXPECTED_FIELD) for name in columns if name not in served.name_set]
    if errors:
        raise InputError(errors)
    checked = check(served, columns, n, unknown)
    errors = _row_errors(checked, where)
    if errors:
        raise InputError(errors)
    return checked


def check(served: Served, columns: dict, n: int, unknown: str) -> Checked:
    """The runtime's validation; small requests of plain values take the pure-Python path."""
    # a few rows of plain lists go as they are (OnnxModel.check takes its pure-Python path for them)
    small = n <= SMALL and all(isinstance(c, list) for c in columns.values())
    return served.model.check(columns if small else scalars(columns), n, unknown=unknown)


def _row_errors(checked: Checked, where: str) -> list[tuple[tuple, str]]:
    errors = []
    for i, reasons in sorted(checked.reasons.items()):
        for reason in reasons:
            name, _, msg = reason.partition(": ")
            errors.append(((where, i, name), msg))
    return errors


def score(served: Served, checked: Checked) -> Prediction:
    """Run the model on validated rows."""
    return served.model.predict_checked(checked)


async def off_loop(n_rows: int, thread_rows: int, fn: Any, *args: Any) -> Any:
    """Run ``fn`` inline for small requests, in a thread for big ones (the loop keeps serving)."""
    if n_rows > thread_rows:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)
