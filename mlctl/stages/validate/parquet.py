"""Validate a clean Parquet file from Arrow, without building the pandas frame.

`mlctl validate` runs pandera over the whole frame, and on clean data most of
that work is proving what the statistics already show. For a flat Parquet file
this module computes the same statistics straight from Arrow (numbers as float64,
text columns from their dictionary encoding), then:

- runs pandera on an empty frame with the exact dtypes ``pandas.read_parquet``
  gives: column presence, order, strictness and types are pandera's own verdict;
- proves nullability from the null counts, and each range or category check from
  the column's min/max or distinct values (``mlctl.data.profiling.provably_passing``).

Anything it cannot prove (a failing value, ``unique``, a hand-written check,
coercion, an index, a column type other than numbers or text) returns None, and
validate takes the full pandas + pandera path, which finds and describes every
failure. The report is the same either way (tests/test_validate_parquet.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandera.pandas as pa

    from mlctl.params.validate import ValidateParams

PROVABLE_CHECKS = {"in_range", "isin"}


def validate_parquet(path: Path, schema: pa.DataFrameSchema, profile: dict, params: ValidateParams) -> dict | None:
    """The report ``validate_frame`` would give for a file that passes, or None when that is not proven."""
    import pyarrow as pa

    try:
        return _validate(path, schema, profile, params)
    except (OSError, ValueError, pa.ArrowException):  # an unreadable file: the full path reports it properly
        return None


def _validate(path: Path, schema: pa.DataFrameSchema, profile: dict, params: ValidateParams) -> dict | None:
    import pyarrow.parquet as pq

    from mlctl.data.sources.parquet_outline import plain_frame
    from mlctl.stages.validate.findings import assemble, schema_findings

    if not _provable_schema(schema):
        return None
    pf = pq.ParquetFile(path)
    empty = plain_frame(pf)
    if empty is None or len(empty.columns) == 0:
        return None
    kinds = {name: _kind(empty[name].dtype) for name in empty.columns}
    if None in kinds.values():
        return None
    lean = schema.update_columns({name: {"checks": []} for name in schema.columns})
    if schema_findings(empty, lean, params):  # missing/unexpected columns, wrong types: the full path describes them
        return None
    text = [name for name, kind in kinds.items() if kind == "text"]
    table = pq.read_table(path, columns=list(empty.columns), read_dictionary=text)
    rows = table.num_rows
    nulls = {name: _nulls(table.column(name), kinds[name]) for name in empty.columns}
    if any(kinds[name] == "integer" and k for name, k in nulls.items()):
        return None  # pandas reads an integer column with missing values as float: not the dtype checked above
    for name, column in schema.columns.items():
        if not column.nullable and nulls.get(name, 0):
            return None
    null_rates = {name: k / max(rows, 1) for name, k in nulls.items()}
    stats, evidence = _statistics(table, kinds, null_rates, profile.get("columns", {}))
    from mlctl.data.profiling import provably_passing

    checked = {name for name, column in schema.columns.items() if column.checks}
    if not checked <= set(provably_passing(schema, evidence)):
        return None
    return assemble([], stats, null_rates, (rows, len(empty.columns)), profile, params)


def _provable_schema(schema: Any) -> bool:
    """No constraint here needs the rows themselves (uniqueness, custom checks, coercion, an index)."""
    if schema.checks or schema.unique or schema.coerce or schema.index is not None:
        return False
    for column in schema.columns.values():
        if column.unique or column.coerce or column.regex:
            return False
        if any(check.name not in PROVABLE_CHECKS for check in column.checks):
            return False
    return True


def _kind(dtype: Any) -> str | None:
    """'integer', 'float' or 'text' for the dtypes this path handles, else None."""
    import numpy as np
    import pandas as pd

    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return "integer"
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return "float"
    if isinstance(dtype, pd.StringDtype):
        return "text"
    return None


def _nulls(column: Any, kind: str) -> int:
    """Missing values as pandas counts them: nulls, and NaN in float columns."""
    import pyarrow.compute as pc

    nans = (pc.sum(pc.is_nan(column)).as_py() or 0) if kind == "float" else 0
    return column.null_count + nans


def _statistics(table: Any, kinds: dict[str, str], null_rates: dict[str, float], reference: dict) -> tuple[dict, dict]:
    """``current_stats`` of every profiled column, computed from Arrow two columns at a time."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.compute as pc

    from mlctl.data.profiling import column_stats, level_counts

    def one(name: str) -> tuple[dict, Any]:
        ref, rate, kind = reference[name], null_rates[name], kinds[name]
        if rate < 1.0 and ref.get("kind") == "numeric" and kind != "text":
            values = pc.cast(table.column(name), pa.float64()).to_numpy()  # nulls become NaN
            return column_stats(ref, rate, values=values)
        if rate < 1.0 and ref.get("kind") in ("categorical", "boolean") and kind == "text":
            return column_stats(ref, rate, counts=level_counts(table.column(name)))
        return column_stats(ref, rate)

    names = [name for name in kinds if name in reference]
    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy and Arrow kernels release the GIL
        figures = list(pool.map(one, names))
    stats = {name: st for name, (st, _) in zip(names, figures, strict=True)}
    evidence = {name: seen for name, (_, seen) in zip(names, figures, strict=True)}
    return stats, evidence
