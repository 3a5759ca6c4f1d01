"""Split strategies of `prepare`: pure, seeded functions returning row positions.

Every strategy returns three sorted arrays of positions (train, validation,
test) that are disjoint and together cover every row. ``random``,
``stratified`` and ``group`` depend only on the data and the seed;
``time`` is deterministic (oldest rows train, newest test).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlctl.core.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

METHODS = ("random", "stratified", "group", "time")


@dataclass(frozen=True)
class Split:
    """Row positions of the three parts."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def parts(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def part_sizes(n: int, test_size: float, validation_size: float) -> tuple[int, int, int]:
    """Rows for (train, validation, test): rounded, at least one each where asked for."""
    needed = 3 if validation_size > 0 else 2
    if n < needed:
        raise DataError(
            f"{n} row(s) are too few to split into train/validation/test",
            hint=f"at least {needed} rows are needed; lower test_size/validation_size or add data",
        )
    return _shares(n, test_size, validation_size)


def _shares(n: int, test_size: float, validation_size: float) -> tuple[int, int, int]:
    """Round each part's share of ``n``; every asked-for part keeps one row, train gets the rest."""
    n_test = max(1, round(n * test_size))
    n_val = max(1, round(n * validation_size)) if validation_size > 0 else 0
    while n - n_test - n_val < 1:  # tiny inputs: give train its one row back from the larger part
        if n_test >= n_val and n_test > 1:
            n_test -= 1
        else:
            n_val -= 1
    return n - n_test - n_val, n_val, n_test


def _make(order, n_train: int, n_val: int, *, keep_order: bool = False) -> Split:
    import numpy as np

    order = np.asarray(order, dtype="int64")
    parts = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    if not keep_order:
        parts = tuple(np.sort(p) for p in parts)
    return Split(*parts)


def random_split(n: int, test_size: float, validation_size: float, seed: int) -> Split:
    """Shuffle rows with the seed and cut them into the three parts."""
    import numpy as np

    n_train, n_val, _ = part_sizes(n, test_size, validation_size)
    return _make(np.random.default_rng(seed).permutation(n), n_train, n_val)


def stratified_split(labels, test_size: float, validation_size: float, seed: int) -> Split:
    """Split each class separately so every part keeps the class proportions.

    Every class gets at least one row in every part; a class with fewer rows
    than parts is an error (use the random split, or collect more data).
    """
    import numpy as np
    import pandas as pd

    labels = pd.Series(np.asarray(labels, dtype=object))
    if labels.isna().any():
        raise DataError("stratified split needs a label for every row", hint="drop rows with a missing target first")
    n_parts = 3 if validation_size > 0 else 2
    counts = labels.value_counts(sort=False)
    too_small = counts[counts < n_parts]
    if len(too_small):
        listed = ", ".join(f"{k!r} ({v} row{'s' if v != 1 else ''})" for k, v in too_small.items())
        raise DataError(
            f"stratified split needs at least {n_parts} rows per class; too few for {listed}",
            hint="use prepare.split.method: random, merge rare classes, or add data",
        )
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    codes, uniques = pd.factorize(labels, sort=True)
    for code in range(len(uniques)):  # sorted classes: the result does not depend on row order of classes
        rows = np.flatnonzero(codes == code)
        _, n_val, n_test = _shares(len(rows), test_size, validation_size)
        rows = rng.permutation(rows)
        test.append(rows[:n_test])
        val.append(rows[n_test : n_test + n_val])
        train.append(rows[n_test + n_val :])
    return Split(*(np.sort(np.concatenate(p)).astype("int64") for p in (train, val, test)))


def group_split(groups, test_size: float, validation_size: float, seed: int) -> Split:
    """Assign whole groups to parts (shuffled with the seed) until each part has its share of rows.

    No group ever appears in two parts; missing group values form one group.
    """
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(np.asarray(groups, dtype=object)), sort=True, use_na_sentinel=False)
    n_groups = len(uniques)
    n_parts = 3 if validation_size > 0 else 2
    if n_groups < n_parts:
        raise DataError(
            f"group split needs at least {n_parts} groups; the data has {n_groups}",
            hint="use another split method or a finer group_column",
        )
    sizes = np.bincount(codes, minlength=n_groups)
    want = {2: len(codes) * test_size, 1: len(codes) * validation_size}
    required = (0, 1, 2) if validation_size > 0 else (0, 2)
    count, filled = np.zeros(3, dtype="int64"), np.zeros(3)
    part_of = np.zeros(n_groups, dtype="int64")  # 0 train, 1 validation, 2 test
    for i, g in enumerate(np.random.default_rng(seed).permutation(n_groups)):
        part = _choose_part(sizes[g], n_groups - i - 1, count, filled, want, required)
        part_of[g] = part
        count[part] += 1
        filled[part] += sizes[g]
    row_part = part_of[codes]
    return Split(*(np.flatnonzero(row_part == p).astype("int64") for p in (0, 1, 2)))


def _choose_part(size: int, remaining: int, count, filled, want: dict, required: tuple) -> int:
    """Test first, then validation, else train; every required part gets at least one group."""

    def empty_besides(p: int) -> int:
        return sum(1 for q in required if q != p and count[q] == 0)

    for p in (2, 1):
        # a group joins a part while the part is below its share (counting half the group),
        # and only if enough groups are left to give every other empty part one
        if p in required and remaining >= empty_besides(p) and (count[p] == 0 or filled[p] + size / 2 <= want[p]):
            return p
    if remaining < empty_besides(0):
        return next(q for q in (2, 1) if q in required and count[q] == 0)
    return 0


def time_split(times, test_size: float, validation_size: float) -> Split:
    """Order rows by time: the oldest go to train, then validation, the newest to test.

    Rows of each part are returned in time order (ties keep their input order).
    """
    import numpy as np
    import pandas as pd

    values = pd.Series(times)
    if values.isna().any():
        raise DataError(
            f"time split: {int(values.isna().sum())} row(s) have no time value",
            hint="drop them first (prepare does) or fill the time column",
        )
    n_train, n_val, _ = part_sizes(len(values), test_size, validation_size)
    order = np.argsort(values.to_numpy(), kind="stable")
    return _make(order, n_train, n_val, keep_order=True)


def split_frame(
    df: pd.DataFrame,
    *,
    method: str,
    test_size: float,
    validation_size: float,
    seed: int,
    target: str | None = None,
    group_column: str | None = None,
    time_column: str | None = None,
) -> Split:
    """Dispatch to the strategy ``method`` with the columns it needs."""
    from mlctl.data.cleaning import require_columns

    if method == "random":
        return random_split(len(df), test_size, validation_size, seed)
    if method == "stratified":
        require_columns(df, [target], key="target")
        return stratified_split(df[target], test_size, validation_size, seed)
    if method == "group":
        require_columns(df, [group_column], key="prepare.split.group_column")
        return group_split(df[group_column], test_size, validation_size, seed)
    if method == "time":
        require_columns(df, [time_column], key="prepare.split.time_column")
        return time_split(df[time_column], test_size, validation_size)
    raise ConfigError(f"unknown split method {method!r}", hint=f"use one of {', '.join(METHODS)}")
