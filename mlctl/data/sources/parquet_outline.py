"""A plain Parquet source described from its metadata, so `mlctl collect` need not load it.

Used when collect copies a single Parquet file byte for byte: rows, dtypes and
null counts come from the file's metadata (float columns are read, since
pandas counts NaN as missing and Parquet statistics do not).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import DataError
from mlctl.data.sources.local import SourceData, _is_plain

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.project import Project
    from mlctl.params.collect import Source


def outline_parquet(source: Source, project: Project, path: Path) -> SourceData | None:
    """A plain Parquet file described from its metadata, not loaded; None when it needs a full read."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    from mlctl.core.fileio import sha256_file

    try:
        pf = pq.ParquetFile(path)
    except Exception:  # the full read reports the problem with its diagnostics
        return None
    empty = plain_frame(pf)
    if empty is None or not _is_plain(empty):
        return None
    meta = pf.metadata
    if meta.num_rows == 0 or len(empty.columns) == 0:
        raise DataError(f"source {source.name!r} has no data rows", where=str(source.path), hint="fill the source")
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashlib releases the GIL: hash while counting nulls
        digest = pool.submit(sha256_file, path)
        nulls = _parquet_nulls(pf, empty)
    entries = [{"path": project.rel(path), "sha256": digest.result(), "bytes": path.stat().st_size}]
    data = SourceData(source.name, source.kind, str(source.path), empty, entries[0]["sha256"], entries, paths=[path])
    data.rows, data.nulls, data.verbatim = meta.num_rows, nulls, True
    return data


def plain_frame(pf: Any) -> pd.DataFrame | None:
    """The empty frame pandas.read_parquet would give (its columns and dtypes) for a flat file, else None.

    Flat: one Parquet column per frame column, unique names, and at most a
    default RangeIndex in the pandas metadata.
    """
    try:
        arrow = pf.schema_arrow
        empty = arrow.empty_table().to_pandas()  # the dtypes pandas.read_parquet gives, without the data
    except Exception:
        return None
    index = (arrow.pandas_metadata or {}).get("index_columns", [])
    range_index = [i for i in index if isinstance(i, dict) and i.get("kind") == "range" and i.get("name") is None]
    plain_index = len(index) == len(range_index) <= 1 and all(i["start"] == 0 and i["step"] == 1 for i in range_index)
    meta = pf.metadata
    flat = meta.num_columns == len(arrow.names) == len(empty.columns)
    flat = flat and all(meta.schema.column(i).path == name for i, name in enumerate(arrow.names))
    return empty if plain_index and flat and not empty.columns.has_duplicates else None


def _parquet_nulls(pf: Any, empty: pd.DataFrame) -> dict[str, int]:
    """Missing values per column from row-group statistics; float columns (NaN) and unknown counts are read."""
    import pyarrow.compute as pc

    meta, nulls, scan = pf.metadata, {}, []
    for i, name in enumerate(empty.columns):
        stats = [meta.row_group(g).column(i).statistics for g in range(meta.num_row_groups)]
        # pandas counts a float NaN as missing; Parquet statistics do not: float columns are read
        if empty[name].dtype.kind == "f" or not all(s is not None and s.has_null_count for s in stats):
            scan.append(name)
        else:
            nulls[name] = sum(s.null_count for s in stats)
    if scan:
        table = pf.read(columns=scan)
        for name in scan:
            col = table.column(name)
            nans = (pc.sum(pc.is_nan(col)).as_py() or 0) if empty[name].dtype.kind == "f" else 0
            nulls[name] = col.null_count + nans
    return {c: nulls[c] for c in empty.columns}
