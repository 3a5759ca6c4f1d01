"""Feeds for a few JSON records that are plainly valid, without the general validator.

Most online traffic is one well-formed row. For it, the general path (``validate_records``
then ``check_small``) spends more time in numpy calls and error bookkeeping than
onnxruntime spends scoring. ``plain_feeds`` accepts only rows that the general path
would accept unchanged: the exact feature names, numbers (int, float, bool) inside
float32 range, and known, non-empty category strings. It builds bit-identical feeds.
Anything else (a null, a bool, an unknown category, a missing or extra key...)
returns None and takes the general path, which explains what is wrong.
tests/test_serve_plain.py checks both claims on generated inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlctl.runtime import OnnxModel

MAX_ROWS = 32  # above this, the vectorised general path is as fast
# float32 overflows near 3.4028e38; beyond this bound the general path decides (infinite: rejected)
FLOAT32_SAFE = 3.4e38


class Plan:
    """What ``plain_feeds`` needs from one model, precomputed once per loaded model."""

    __slots__ = ("specs", "width")

    def __init__(self, model: OnnxModel):
        known = model._category_sets
        # (name, numeric?, allowed categories or None when any non-empty string goes)
        self.specs = tuple((s.name, s.kind == "numeric", known.get(s.name)) for s in model.inputs)
        self.width = len(self.specs)


def plain_feeds(plan: Plan, records: Any, max_rows: int) -> tuple[dict[str, np.ndarray], dict[str, list]] | None:
    """(feeds, raw categorical columns) when every record is plainly valid, else None."""
    if type(records) is not list or not 0 < len(records) <= min(MAX_ROWS, max_rows):
        return None
    width = plan.width
    for rec in records:
        if type(rec) is not dict or len(rec) != width:
            return None
    n = len(records)
    feeds: dict[str, np.ndarray] = {}
    raw: dict[str, list] = {}
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
        if numeric:
            feeds[name] = np.array(col, dtype=np.float32).reshape(n, 1)
        else:
            arr = np.empty((n, 1), dtype=object)
            arr[:, 0] = col
            feeds[name] = arr
            raw[name] = col
    return feeds, raw
