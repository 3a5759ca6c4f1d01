"""Find the input files of a batch job, check them up front, and stream them as Arrow tables.

An input is a file, a glob or a directory of partitions (every .csv/.parquet/.jsonl
file below it, hidden and ``_``-prefixed files such as ``_SUCCESS`` skipped). All
files must share one format. Every file is opened and its columns checked before
any output is written, so a missing column or an unreadable file fails the whole
job up front. Tables are streamed in chunks of about ``chunk_rows`` rows: memory
stays flat whatever the input size.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlctl.batch.csvfiles import NULL_TOKENS, SNIFF_BYTES, CsvBlock, csv_blocks, open_csv
from mlctl.errors import DataError, DataValidationError, InputNotFoundError
from mlctl.io import TABLE_FORMATS, table_format

__all__ = ["NULL_TOKENS", "Chunk", "Inputs", "Loaded", "check", "fingerprint", "iter_chunks", "iter_tables", "resolve"]

if TYPE_CHECKING:
    import pyarrow as pa

    from mlctl.project import Project

# Inputs up to this size are fingerprinted by their bytes; bigger ones by
# (path, size, mtime) so that fingerprinting never costs more than scoring.
FINGERPRINT_MAX_BYTES = 512 << 20


@dataclass(frozen=True)
class Inputs:
    """The resolved input files of a job, in scoring order."""

    spec: str
    files: tuple[Path, ...]
    fmt: str

    @property
    def bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def resolve(project: Project, spec: str) -> Inputs:
    """Turn a path, glob or directory into a sorted list of files of one format."""
    if any(ch in spec for ch in "*?["):
        project.path(spec.split("*")[0].split("?")[0].split("[")[0] or ".", what="input")
        matches = sorted(Path(p) for p in glob.glob(str(project.root / Path(spec).expanduser()), recursive=True))
        files = [p for p in matches if p.is_file() and _is_data(p)]
        if not files:
            raise InputNotFoundError(
                f"no input files match {spec!r}",
                where=spec,
                hint="check the glob (relative globs start at the project root)",
            )
    else:
        path = project.path(spec, what="input")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _is_data(p))
            if not files:
                raise InputNotFoundError(
                    "directory holds no .csv, .parquet or .jsonl files", where=str(path), hint="check the input path"
                )
        elif path.exists():
            files = [path]
        else:
            raise InputNotFoundError("input file not found", where=str(path), hint="check the path or run `dvc pull`")
    formats = {table_format(f) for f in files}
    if len(formats) > 1:
        raise DataError(f"input mixes formats {sorted(formats)}", where=spec, hint="score one format per job")
    return Inputs(spec, tuple(files), formats.pop())


def _is_data(path: Path) -> bool:
    if path.name.startswith((".", "_")):
        return False
    suffix = path.suffix.lower()
    if suffix == ".gz":
        suffix = Path(path.stem).suffix.lower()
    return suffix in TABLE_FORMATS


def fingerprint(inputs: Inputs, root: Path) -> dict:
    """sha256 of the files' bytes (or of their (path, size, mtime) when they are huge)."""
    digest = hashlib.sha256()
    total = inputs.bytes
    method = "content" if total <= FINGERPRINT_MAX_BYTES else "stat"
    for f in inputs.files:
        rel = _rel(f, root)
        digest.update(rel.encode() + b"\0")
        if method == "content":
            with open(f, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
        else:
            st = f.stat()
            digest.update(json.dumps([rel, st.st_size, st.st_mtime_ns]).encode())
    return {"method": method, "sha256": digest.hexdigest(), "bytes": total, "files": len(inputs.files)}


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def check(inputs: Inputs, features: list[str], passthrough: list[str]) -> tuple[dict[str, pa.DataType], int | None]:
    """Open every file; fail up front on unreadable files or missing columns.

    Returns the passthrough columns' types (from the first file) and the total
    row count when the format records it (Parquet), else None.
    """
    import pyarrow as pa

    types: dict[str, pa.DataType] = {}
    total: int | None = 0
    for f in inputs.files:
        names, schema, rows = _peek(f, inputs.fmt, features)
        total = None if total is None or rows is None else total + rows
        absent = [c for c in [*features, *passthrough] if c not in names]
        if absent and names:  # an empty JSON-lines file has no columns and no rows
            raise DataValidationError(
                f"column(s) {absent} missing",
                where=str(f),
                hint=f"the model needs {features}" + (f" and passthrough {passthrough}" if passthrough else ""),
            )
        for c in passthrough:
            if c not in types and schema is not None and c in schema.names:
                types[c] = schema.field(c).type
    for c in passthrough:
        types.setdefault(c, pa.string())
    return types, total


def _peek(path: Path, fmt: str, features: list[str]) -> tuple[list[str], pa.Schema | None, int | None]:
    """Column names, Arrow schema and row count (if known) of one file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if fmt == "parquet":
            pf = pq.ParquetFile(path)
            return pf.schema_arrow.names, pf.schema_arrow, pf.metadata.num_rows
        if fmt == "csv":
            if path.stat().st_size == 0:
                raise DataError("file is empty (not even a header line)", where=str(path))
            reader = open_csv(path, SNIFF_BYTES, types={c: pa.string() for c in features})
            schema = reader.schema
            reader.close()
            return schema.names, schema, None
        with _open_text(path) as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    if not isinstance(rec, dict):
                        raise DataError("JSON lines must be objects", where=f"{path}: line 1")
                    return list(rec), None, None
        return [], None, 0
    except (pa.ArrowException, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {fmt}: {exc}", where=str(path), hint="is the file complete?") from None


def _open_text(path: Path):
    import gzip

    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


# CSV is parsed in blocks smaller than a chunk: cheap to cut, and with more of
# them every core stays busy while the first fills the pipeline and the last
# drains it (about 5% more rows/s on a million rows, and less memory)
CSV_BLOCKS_PER_CHUNK = 4


@dataclass(frozen=True)
class Loaded:
    """A chunk already read into a table (Parquet, JSON lines); CSV chunks parse on ``load``."""

    table: pa.Table

    def load(self) -> pa.Table:
        return self.table


Chunk = Loaded | CsvBlock


def iter_chunks(inputs: Inputs, kinds: Mapping[str, str], columns: list[str], chunk_rows: int) -> Iterator[Chunk]:
    """Chunks of ``columns`` of about ``chunk_rows`` rows, file after file, in row order.

    Each has ``load()``, which returns its table; CSV chunks are parsed there, so
    the caller decides on which thread. ``kinds`` maps each model feature to
    "numeric" or "categorical" (how CSV text is typed).
    """
    import pyarrow as pa

    for f in inputs.files:
        try:
            if inputs.fmt == "parquet":
                yield from map(Loaded, _rebatch(_parquet_batches(f, columns, chunk_rows), chunk_rows))
            elif inputs.fmt == "csv":
                yield from csv_blocks(f, kinds, columns, max(1, chunk_rows // CSV_BLOCKS_PER_CHUNK))
            else:
                yield from map(Loaded, _jsonl_tables(f, columns, chunk_rows))
        except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read {inputs.fmt}: {exc}", where=str(f)) from None


def iter_tables(inputs: Inputs, kinds: Mapping[str, str], columns: list[str], chunk_rows: int) -> Iterator[pa.Table]:
    """The tables of ``iter_chunks``, read one after another."""
    for chunk in iter_chunks(inputs, kinds, columns, chunk_rows):
        yield chunk.load()


def _parquet_batches(path: Path, columns: list[str], chunk_rows: int):
    import pyarrow.parquet as pq

    # pre_buffer (pyarrow's default) reads ahead without bound: memory would grow with the file
    pf = pq.ParquetFile(path, pre_buffer=False)
    yield from pf.iter_batches(batch_size=chunk_rows, columns=columns)


def _rebatch(batches, chunk_rows: int) -> Iterator[pa.Table]:
    """Group record batches into tables of at least ``chunk_rows`` rows (the last may be smaller)."""
    import pyarrow as pa

    pending, n = [], 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        n += batch.num_rows
        if n >= chunk_rows:
            yield pa.Table.from_batches(pending)
            pending, n = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _jsonl_tables(path: Path, columns: list[str], chunk_rows: int) -> Iterator[pa.Table]:
    """Parse JSON lines in chunks; a column of mixed types is kept as text."""
    records: list[dict] = []
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg}", where=f"{path}: line {lineno}") from None
            if not isinstance(rec, dict):
                raise DataError("JSON lines must be objects", where=f"{path}: line {lineno}")
            records.append(rec)
            if len(records) >= chunk_rows:
                yield records_table(records, columns)
                records = []
    if records:
        yield records_table(records, columns)


def records_table(records: list[dict], columns: list[str]) -> pa.Table:
    """An Arrow table of ``columns`` from JSON records (absent keys are missing values)."""
    import pyarrow as pa

    arrays = []
    for c in columns:
        values = [r.get(c) for r in records]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowException, TypeError, ValueError):
            arrays.append(pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values]))
    return pa.table(arrays, names=columns)
