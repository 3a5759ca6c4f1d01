"""Column statistics: the reference profile (data/profile.json) and today's data next to it.

All vectorised (numpy / pyarrow): profiling a million rows must cost about as
much as reading them. The distribution shift score is the population
stability index (PSI) over the reference histogram bins or category levels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def bin_shares(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Share of the non-NaN ``values`` in each bin; values beyond the end edges count in the end bins."""
    import numpy as np

    cuts = edges[1:-1]
    valid = int(np.count_nonzero(~np.isnan(values)))
    if valid == 0:
        return np.zeros(max(len(edges) - 1, 1))
    # one comparison per cut instead of a binary search per value; NaN compares False everywhere
    at_or_above = [int(np.count_nonzero(values >= cut)) for cut in cuts]
    counts = -np.diff(np.array([valid, *at_or_above, 0]))
    return counts / valid


def histogram_edges(values: np.ndarray, bins: int, *, ordered: np.ndarray | None = None) -> list[float]:
    """Quantile bin edges with both ends; a column with few distinct values gets one bin per value."""
    import numpy as np

    from mlctl.data.drift import bin_edges

    ordered = np.sort(values) if ordered is None else ordered
    return [float(ordered[0]), *map(float, bin_edges(ordered, bins, ordered=ordered)), float(ordered[-1])]


def numeric_profile(numbers: np.ndarray, bins: int) -> dict[str, Any]:
    """Reference statistics of a numeric column's non-missing values."""
    import numpy as np

    ordered = np.sort(numbers)  # one sort serves the quantiles, the distinct values and the edges
    edges = histogram_edges(numbers, bins, ordered=ordered)
    return {
        "kind": "numeric",
        "min": float(ordered[0]),
        "max": float(ordered[-1]),
        "mean": float(numbers.mean()),
        "std": float(numbers.std()),
        "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(ordered, QUANTILES), strict=True)},
        "histogram": {"edges": edges, "shares": bin_shares(numbers, edges).tolist()},
    }


def shares(counts: pd.Series, total: int | None = None) -> dict[str, float]:
    """Level -> share from value counts (keys as strings, as JSON stores them)."""
    total = total or int(counts.sum())
    return {str(k): int(v) / total for k, v in counts.items()}


def null_counts(df: pd.DataFrame) -> dict[str, int]:
    """Missing values per column; Arrow-backed columns know theirs without a scan."""
    counts = {}
    for name in df.columns:
        col = df[name]
        to_arrow = getattr(col.array, "__arrow_array__", None)
        counts[name] = to_arrow().null_count if to_arrow is not None else int(col.isna().sum())
    return counts


def is_numeric(s: pd.Series) -> bool:
    """Numbers, not booleans."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def parquet_level_counts(path: Any) -> dict[str, pd.Series]:
    """Value counts of a Parquet file's text columns, from their dictionary encoding (no hashing of strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [f.name for f in pq.read_schema(path) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    table = pq.read_table(path, columns=names, read_dictionary=names) if names else None
    return {name: level_counts(table.column(name)) for name in names}


def level_counts(column: Any) -> pd.Series:
    """Value counts of a dictionary-encoded Arrow column, most frequent first (missing values not counted)."""
    import numpy as np
    import pandas as pd

    counts: dict[str, int] = {}
    for chunk in column.chunks:
        indices = chunk.indices.drop_null().to_numpy()
        tally = np.bincount(indices, minlength=len(chunk.dictionary))
        for level, k in zip(chunk.dictionary.to_pylist(), tally, strict=True):
            if k:
                counts[level] = counts.get(level, 0) + int(k)
    return pd.Series(counts, dtype="int64").sort_values(ascending=False, kind="stable")


def current_stats(
    s: pd.Series, ref: dict[str, Any], null_rate: float, counts: pd.Series | None = None
) -> tuple[dict[str, Any], Any]:
    """Today's figures for one column next to its reference profile entry.

    Returns (stats, evidence): evidence is the column's (min, max) for numbers or
    its value counts for categories (``counts`` if given), which validate uses to skip
    pandera checks that cannot fail; None when the column's type does not match its profile.
    """
    import numpy as np

    kind = ref.get("kind")
    if null_rate < 1.0 and kind == "numeric" and is_numeric(s):
        return column_stats(ref, null_rate, values=s.to_numpy(dtype="float64", na_value=np.nan))
    if null_rate < 1.0 and kind in ("categorical", "boolean") and not is_numeric(s):
        return column_stats(ref, null_rate, counts=s.value_counts() if counts is None else counts)
    return column_stats(ref, null_rate)


def column_stats(
    ref: dict[str, Any], null_rate: float, *, values: np.ndarray | None = None, counts: pd.Series | None = None
) -> tuple[dict[str, Any], Any]:
    """Like ``current_stats``, from a numeric column's float64 values (NaN missing) or a category column's counts."""
    import numpy as np

    from mlctl.data.drift import psi_shares

    stats: dict[str, Any] = {"null_rate": null_rate, "reference_null_rate": ref.get("null_rate", 0.0)}
    if values is not None:
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        hist = ref["histogram"]
        valid = int(np.count_nonzero(~np.isnan(values)))
        outside = int(np.count_nonzero(values < ref["min"]) + np.count_nonzero(values > ref["max"]))
        stats.update(
            psi=psi_shares(hist["shares"], bin_shares(values, hist["edges"])),
            out_of_range_share=outside / valid,
            min=low,
            max=high,
        )
        return stats, (low, high)
    if counts is not None:
        current = shares(counts)
        levels = ref["levels"]
        unseen = [k for k in current if k not in levels]
        unseen_share = sum(current[k] for k in unseen)
        expected = [*levels.values(), 0.0]
        stats.update(
            psi=psi_shares(expected, [*(current.get(k, 0.0) for k in levels), unseen_share]),
            unseen_share=unseen_share,
            unseen_examples=unseen[:5],
        )
        return stats, counts
    return stats, None


def provably_passing(schema: Any, evidence: dict[str, Any]) -> list[str]:
    """Columns whose range/category checks the statistics already prove pass.

    pandera then skips those element-wise checks (it still checks presence,
    type and nullability): on clean data that halves its cost. A column with
    any other check, or with evidence of a failure, keeps every check, so
    failures are still found and described by pandera.
    """
    passing = []
    for name, seen in evidence.items():
        column = schema.columns.get(name)
        if column is None or seen is None or not column.checks:
            continue
        if all(check_passes(check, seen) for check in column.checks):
            passing.append(name)
    return passing


def check_passes(check: Any, seen: Any) -> bool:
    stats = check.statistics or {}
    if check.name == "in_range" and isinstance(seen, tuple):
        low, high = seen
        lo_ok = low >= stats["min_value"] if stats.get("include_min", True) else low > stats["min_value"]
        hi_ok = high <= stats["max_value"] if stats.get("include_max", True) else high < stats["max_value"]
        return bool(lo_ok and hi_ok)
    if check.name == "isin" and not isinstance(seen, tuple):
        return set(seen.index) <= set(stats["allowed_values"])
    return False
