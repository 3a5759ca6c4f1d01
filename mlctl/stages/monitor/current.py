"""Current data for monitoring: one file, a directory of request logs, or batch outputs, read in chunks.

Parquet is read with ``ParquetFile.iter_batches`` (only the needed columns),
CSV and JSON lines with pandas' chunked readers, so memory stays bounded by
``chunk_rows`` whatever the size of the logs. Request logs of other model
versions are counted, never mixed into the analysis: a row group whose
``model_version`` statistics show a single other version is skipped unread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlctl.core.errors import DataError, InputNotFoundError
from mlctl.core.fileio import TABLE_FORMATS, table_format

if TYPE_CHECKING:
    import pandas as pd

VERSION_COLUMN = "model_version"
ID_COLUMN = "request_id"


@dataclass
class Source:
    """Where the current data comes from and which files hold it."""

    path: Path
    kind: str  # "file" | "directory"
    files: list[Path]
    other_versions: Counter = field(default_factory=Counter)  # model_version -> rows not analysed
    rows_read: int = 0


def open_source(path: Path) -> Source:
    """Find the files of ``path``; an empty log directory is a clear not-found error."""
    if not path.exists():
        raise InputNotFoundError(
            "current data not found",
            where=str(path),
            hint="pass a file or a log directory (`mlctl monitor PATH`), or set monitor.current",
        )
    if path.is_file():
        table_format(path)  # an unsupported extension fails here, before any work
        return Source(path, "file", [path])
    files = sorted(
        p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")) and _suffix(p) in TABLE_FORMATS
    )
    if not files:
        raise InputNotFoundError(
            "no data files (.parquet, .csv, .jsonl) in the directory",
            where=str(path),
            hint="check serve.log_dir and that `mlctl serve` has logged requests, or pass a file",
        )
    return Source(path, "directory", files)


def _suffix(path: Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return Path(name).suffix.lower()


def iter_chunks(source: Source, wanted: set[str], version: str | None, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Yield DataFrames of at most ``chunk_rows`` rows of ``version`` (all rows if the data has no versions)."""
    for path in source.files:
        for chunk in _read_file(path, wanted, version, chunk_rows, source.other_versions):
            if VERSION_COLUMN in chunk.columns and version is not None:
                served = chunk[VERSION_COLUMN].astype("string") == version
                if not served.all():
                    others = chunk.loc[~served, VERSION_COLUMN].astype("string").fillna("(none)")
                    source.other_versions.update(others.value_counts().to_dict())
                    chunk = chunk.loc[served.to_numpy()]
            if len(chunk):
                source.rows_read += len(chunk)
                yield chunk


def _wanted_columns(names: list[str], wanted: set[str]) -> list[str]:
    return [n for n in names if n in wanted or n.startswith("proba_") or n == VERSION_COLUMN]


def _read_file(path: Path, wanted: set[str], version: str | None, chunk_rows: int, others: Counter):
    fmt = table_format(path)
    if path.stat().st_size == 0:
        raise DataError("file is empty", where=str(path))
    try:
        if fmt == "parquet":
            yield from _read_parquet(path, wanted, version, chunk_rows, others)
        else:
            yield from _read_text(path, fmt, wanted, chunk_rows)
    except (DataError, InputNotFoundError):
        raise
    except (OSError, ValueError) as exc:  # pyarrow/pandas parse errors derive from these
        raise DataError(f"cannot read {fmt}: {str(exc).splitlines()[0][:200]}", where=str(path)) from None


def _read_parquet(path: Path, wanted: set[str], version: str | None, chunk_rows: int, others: Counter):
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    columns = _wanted_columns(names, wanted)
    if version is not None and VERSION_COLUMN in names:
        groups = _row_groups_of(pf, names.index(VERSION_COLUMN), version, others)
    else:
        groups = list(range(pf.num_row_groups))
    if not groups:
        return
    for batch in pf.iter_batches(batch_size=chunk_rows, row_groups=groups, columns=columns):
        yield batch.to_pandas()


def _row_groups_of(pf, col: int, version: str, others: Counter) -> list[int]:
    """Row groups that may hold ``version``; groups wholly of another version are counted and skipped."""
    keep = []
    for i in range(pf.num_row_groups):
        meta = pf.metadata.row_group(i)
        stats = meta.column(col).statistics
        single = stats is not None and stats.has_min_max and stats.null_count == 0 and stats.min == stats.max
        if single and str(stats.min) != version:
            others[str(stats.min)] += meta.num_rows
            continue
        keep.append(i)
    return keep


def _read_text(path: Path, fmt: str, wanted: set[str], chunk_rows: int):
    import pandas as pd

    if fmt == "csv":
        header = pd.read_csv(path, nrows=0).columns
        usecols = _wanted_columns(list(header), wanted)
        yield from pd.read_csv(path, usecols=usecols, chunksize=chunk_rows)
    else:
        for chunk in pd.read_json(path, lines=True, chunksize=chunk_rows):
            yield chunk[_wanted_columns(list(chunk.columns), wanted)]


def columns_of(source: Source) -> list[str]:
    """The union of column names over the source's files (read from headers only)."""
    import pandas as pd
    import pyarrow.parquet as pq

    names: dict[str, None] = {}
    for path in source.files:
        fmt = table_format(path)
        if fmt == "parquet":
            try:
                cols = pq.read_schema(path).names
            except (OSError, ValueError) as exc:
                raise DataError(f"cannot read parquet: {str(exc).splitlines()[0][:200]}", where=str(path)) from None
        elif fmt == "csv":
            cols = list(pd.read_csv(path, nrows=0).columns)
        else:
            cols = list(next(iter(pd.read_json(path, lines=True, chunksize=1))).columns)
        names.update(dict.fromkeys(cols))
    return list(names)


def load_labels(path: Path, target: str) -> pd.Series:
    """Labels joined by request id: a Series of target values indexed by request_id."""
    from mlctl.core.fileio import read_table

    df = read_table(path)
    missing = [c for c in (ID_COLUMN, target) if c not in df.columns]
    if missing:
        raise DataError(
            f"labels file lacks column(s) {missing}",
            where=str(path),
            hint=f"it needs {ID_COLUMN!r} (as logged by `mlctl serve`) and the target {target!r}",
        )
    df = df.dropna(subset=[ID_COLUMN]).drop_duplicates(ID_COLUMN, keep="last")
    return df.set_index(df[ID_COLUMN].astype("string"))[target]
