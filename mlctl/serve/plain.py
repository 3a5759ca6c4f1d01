"""Model inputs for a few JSON records that are plainly valid, without the general validator.

Most online traffic is one well-formed row. For it, the general path (``validate_records``
then ``check_small``) spends more time in numpy calls and error bookkeeping than
onnxruntime spends scoring. ``plain_columns`` accepts only rows that the general path
would accept unchanged: the exact feature names, numbers (int, float, bool) inside
float32 range, and known, non-empty category strings; ``to_feeds`` then builds
bit-identical feeds, for one request or for a batch of them.
Anything else (a null, a string for a number, an unknown category, a missing or extra key...)
is None and takes the general path, which explains what is wrong.
tests/test_serve_plain.py checks both claims on generated inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlctl.onnxmodel.runtime import OnnxModel

MAX_ROWS = 32  # above this, the vectorised general path is as fast
# float32 overflows near 3.4028e38; beyond this bound the general path decides (infinite: rejected)
FLOAT32_SAFE = 3.4e38


class Plan:
    """What ``plain_columns`` needs from one model, precomputed once per loaded model."""

    __slots__ = ("specs", "width")

    def __init__(self, model: OnnxModel):
        known = model.category_sets
        # (name, numeric?, allowed categories or None when any non-empty string goes)
        self.specs = tuple((s.name, s.kind == "numeric", known.get(s.name)) for s in model.inputs)
        self.width = len(self.specs)


Columns = dict[str, Any]  # per input: a list of plain (validated) values, or a (n, 1) feed array


def plain_columns(plan: Plan, records: Any, max_rows: int) -> dict[str, list] | None:
    """Each input's values when every record is plainly valid, else None.

    Numbers come back as Python floats (float64, rounded to float32 by ``to_feeds``),
    categories as the strings sent.
    """
    if type(records) is not list or not 0 < len(records) <= min(MAX_ROWS, max_rows):
        return None
    width = plan.width
    for rec in records:
        if type(rec) is not dict or len(rec) != width:
            return None
    columns: dict[str, list] = {}
    for name, numeric, known in plan.specs:
        col = []
        for rec in records:
            v = rec.get(name, rec)  # the record itself stands for "absent" (then: not a str, int or float)
            t = type(v)
            if numeric:
                # exact types (None and subclasses take the general path); NaN fails the bounds
                if (t is not float and t is not int and t is not bool) or not -FLOAT32_SAFE < v < FLOAT32_SAFE:
                    return None
                col.append(float(v))  # int/bool -> float64 first, exactly as the validator converts
            else:
                if t is not str or not v or (known is not None and v not in known):
                    return None  # "" is the missing category; unknown ones depend on serve.unknown_category
                col.append(v)
        columns[name] = col
    return columns


def to_feeds(plan: Plan, parts: list[Columns]) -> dict[str, np.ndarray]:
    """onnxruntime feeds for the rows of one or more requests, in order.

    Plain values become one array per input for the whole batch: building arrays
    per request and concatenating them costs more than the model on small rows.
    """
    feeds: dict[str, np.ndarray] = {}
    for name, numeric, _ in plan.specs:
        pieces = [part[name] for part in parts]
        if all(type(p) is list for p in pieces):
            feeds[name] = _array(pieces[0] if len(pieces) == 1 else [v for p in pieces for v in p], numeric)
        elif len(pieces) == 1:  # checked by the general validator: already a feed
            feeds[name] = pieces[0]
        else:
            feeds[name] = np.concatenate([_array(p, numeric) if type(p) is list else p for p in pieces])
    return feeds


def _array(values: list, numeric: bool) -> np.ndarray:
    # numbers: float64 -> float32 rounding, as the validator's astype; strings: an object array
    return np.array(values, dtype=np.float32 if numeric else object).reshape(len(values), 1)
