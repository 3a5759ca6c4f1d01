"""Validation of a few rows in plain Python, with exactly the vectorised check's rules and messages.

``OnnxModel.check`` chooses: ``check_columns`` is vectorised (numpy/pandas) for big batches; its
fixed cost per column (dtype inference, a pandas Series for the category
lookup) dominates a one-row request. For small requests this module applies
the same rules value by value. tests/test_onnxmodel_smallcheck.py checks, with
generated inputs, that both give the same feeds, masks and reasons.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlctl.onnxmodel import inputs as msg
from mlctl.onnxmodel.inputs import MISSING_CATEGORY, Checked

SMALL = 32  # rows; above this the vectorised runtime check is faster


def check_small(model: Any, columns: dict, n: int, unknown: str) -> Checked:
    """Like ``model.check_columns`` for ``n`` rows of plain Python values (lists).

    ``model`` is an OnnxModel, not imported here: the runtime imports this module.
    """
    with np.errstate(over="ignore"):  # float32 overflow is reported as infinite, as in the runtime
        return _check(model, columns, n, unknown)


def _check(model: Any, columns: dict, n: int, unknown: str) -> Checked:
    ok = np.ones(n, dtype=bool)
    reasons: dict[int, list[str]] = {}
    feeds: dict[str, np.ndarray] = {}
    known_sets = model.category_sets

    def bad(i: int, name: str, msg: str) -> None:
        ok[i] = False
        reasons.setdefault(i, []).append(f"{name}: {msg}")

    for spec in model.inputs:
        col = columns[spec.name]
        name = spec.name
        if spec.kind == "numeric":
            floats, wrong = [], []
            for v in col:
                if v is None:
                    floats.append(math.nan)
                    wrong.append(False)
                elif isinstance(v, (int, float)):  # bool is an int: True/False score as 1/0
                    try:
                        floats.append(float(v))
                    except OverflowError:  # an integer beyond float range
                        floats.append(math.inf if v > 0 else -math.inf)
                    wrong.append(False)
                else:
                    floats.append(math.nan)
                    wrong.append(True)
            values = np.array(floats, dtype=np.float64).astype(np.float32)
            # same message order as the runtime: wrong type, infinite, missing
            for i, x in enumerate(values.tolist()):
                if wrong[i]:
                    bad(i, name, msg.NOT_A_NUMBER)
                elif math.isinf(x):
                    bad(i, name, msg.INFINITE)
                elif x != x and not spec.nullable:
                    bad(i, name, msg.MISSING)
            feeds[name] = values.reshape(-1, 1)
        else:
            known = known_sets.get(name)
            strings = []
            for i, v in enumerate(col):
                wrong = null = number = False
                if v is None or (isinstance(v, float) and v != v):
                    s, null = MISSING_CATEGORY, True
                elif isinstance(v, str):
                    s = v
                elif isinstance(v, bool):
                    s, number = str(v), True
                elif isinstance(v, (int, float)):
                    number = True
                    try:
                        s = str(int(v)) if float(v).is_integer() else str(v)
                    except OverflowError:
                        s = str(v)
                else:
                    s, wrong = MISSING_CATEGORY, True
                null = null or (s == MISSING_CATEGORY and not wrong)
                if wrong:
                    bad(i, name, msg.NOT_A_STRING)
                elif null:
                    if not spec.nullable:
                        bad(i, name, msg.MISSING)
                elif known is not None and s not in known:
                    if number:  # a number where a category is expected, and not one of the categories
                        bad(i, name, msg.NOT_A_STRING)
                    elif unknown == "reject":
                        bad(i, name, msg.UNKNOWN_CATEGORY)
                    elif unknown == "missing":
                        s = MISSING_CATEGORY
                    # ignore: the unknown string itself, which the one-hot encoder encodes as all zeros
                strings.append(s)
            arr = np.empty(n, dtype=object)
            arr[:] = strings
            feeds[name] = arr.reshape(-1, 1)
    return Checked(feeds, ok, reasons)
