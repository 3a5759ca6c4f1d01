"""Split CSV files into blocks of whole lines and parse each block, features typed where it allows.

Reading is cheap (bytes up to the last newline of a block); parsing is the
work, and it happens in ``CsvBlock.load``, on whichever thread scores the block:
the local engine parses blocks on every core at once, with memory bounded by
the blocks in flight (pyarrow's own streaming reader parses on one thread and
reads ahead without bound). As in pyarrow's default (``newlines_in_values``
off), a line break always ends a row.

Each numeric feature is parsed as float64 (or bool) and each categorical one
dictionary-encoded, so every value is converted once, in C. The types come from
the file's first block. A block where some value does not convert (text in a
numeric column) is parsed again with the features as text: there every value is
checked on its own and bad ones become per-row rejects (mlctl.batch.score).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlctl.core.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

# The CSV tokens read as missing: pandas' defaults, so a file scores as it trained
# (collect reads CSV with pandas). The edge runner keeps an identical copy.
NULL_TOKENS = sorted(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA"}
    | {"NULL", "NaN", "None", "n/a", "nan", "null"}
)
TRUE_TOKENS = ["True", "TRUE", "true"]  # pandas.read_csv's defaults
FALSE_TOKENS = ["False", "FALSE", "false"]
SNIFF_BYTES = 1 << 16


def open_csv(path: Path, block_size: int, *, types: Mapping[str, pa.DataType] | None = None):
    """A streaming pyarrow CSV reader with mlctl's missing-value and boolean tokens (for peeking)."""
    import pyarrow.csv as pcsv

    return pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=block_size),
        parse_options=pcsv.ParseOptions(invalid_row_handler=lambda row: "skip"),  # ragged rows: rejects later
        convert_options=_convert(types or {}, None),
    )


def _convert(types: Mapping[str, pa.DataType], columns: list[str] | None):
    import pyarrow.csv as pcsv

    return pcsv.ConvertOptions(
        column_types=dict(types),
        include_columns=columns,
        null_values=NULL_TOKENS,
        strings_can_be_null=True,
        true_values=TRUE_TOKENS,
        false_values=FALSE_TOKENS,
    )


def typed_types(path: Path, kinds: Mapping[str, str], columns: list[str]) -> dict[str, pa.DataType]:
    """Column types for the fast path, from what the file's first block holds.

    Numeric features read as float64 (bool when the block holds only true/false),
    categorical ones dictionary-encoded; a numeric feature whose first block holds
    text stays text. Other columns keep the type inferred from the first block, so
    every block of the file is read the same way.
    """
    import pyarrow as pa

    reader = open_csv(path, SNIFF_BYTES, types={n: pa.string() for n, k in kinds.items() if k == "categorical"})
    schema = reader.schema
    reader.close()
    types: dict[str, pa.DataType] = {}
    for f in schema:
        t, kind = f.type, kinds.get(f.name)
        if f.name not in columns:
            continue
        if kind == "categorical":
            types[f.name] = pa.dictionary(pa.int32(), pa.string())
        elif kind == "numeric" and pa.types.is_boolean(t):
            types[f.name] = t
        elif kind == "numeric" and (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
            types[f.name] = pa.float64()
        else:
            types[f.name] = pa.string() if kind == "numeric" or pa.types.is_null(t) else t
    return types


@dataclass(frozen=True)
class CsvBlock:
    """Whole lines of one CSV file, not yet parsed."""

    path: Path
    names: tuple[str, ...]
    body: bytes | memoryview  # whole lines; a view into the bytes read, not a copy
    types: Mapping[str, pa.DataType]
    kinds: Mapping[str, str]
    columns: tuple[str, ...]

    def load(self) -> pa.Table:
        """The block's table: typed, or with the features as text if some value does not convert."""
        import pyarrow as pa

        try:
            try:
                return self._parse(self.types)
            except pa.ArrowInvalid:
                return self._parse({**self.types, **{n: pa.string() for n in self.kinds if n in self.types}})
        except pa.ArrowException as exc:
            raise DataError(f"cannot read csv: {exc}", where=str(self.path), hint="is the file complete?") from None

    def _parse(self, types: Mapping[str, pa.DataType]) -> pa.Table:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        ragged: dict[int, str] = {}

        def invalid(row) -> str:  # a row with too many or too few fields: a reject, not the end of the job
            ragged[row.number - 1] = f"{row.actual_columns} fields where the header has {row.expected_columns}"
            return "skip"

        table = pcsv.read_csv(
            pa.py_buffer(self.body),
            # one thread a block: the caller parses several blocks at once
            read_options=pcsv.ReadOptions(column_names=list(self.names), use_threads=False),
            parse_options=pcsv.ParseOptions(invalid_row_handler=invalid),
            convert_options=_convert(types, list(self.columns)),
        )
        return with_invalid_rows(table, ragged) if ragged else table


def csv_blocks(path: Path, kinds: Mapping[str, str], columns: list[str], chunk_rows: int) -> Iterator[CsvBlock]:
    """Blocks of whole lines, about ``chunk_rows`` of them each (sized by the first block's bytes per line)."""
    import pyarrow as pa

    types = typed_types(path, kinds, columns)
    with pa.input_stream(str(path), compression="detect") as stream:  # .csv.gz too
        pending = stream.read(SNIFF_BYTES)
        end = pending.find(b"\n")
        while end < 0 and (more := stream.read(SNIFF_BYTES)):
            pending += more
            end = pending.find(b"\n")
        header, pending = (pending, b"") if end < 0 else (pending[: end + 1], pending[end + 1 :])
        names = tuple(_header_names(header, path))
        block_bytes, sized = chunk_rows * 64, False  # ~64 bytes a line until measured
        while True:
            data = stream.read(max(1 << 16, block_bytes - len(pending)))
            if not data and not pending:
                return
            if data:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # no line end yet: a very long line, read on
                    pending += data
                    block_bytes *= 2
                    continue
                # whole lines: what was pending, then data up to its last line end; a memoryview,
                # so a block of megabytes is not copied once more on its way to the parser
                view = memoryview(data)
                body = pending + view[:cut] if pending else view[:cut]
                pending = bytes(view[cut:])
            else:  # end of the file: a last line without a line end
                body, pending = pending, b""
            if len(body) and not _blank(body):
                yield CsvBlock(path, names, body, types, kinds, tuple(columns))
            if not sized:
                lines = bytes(body).count(b"\n")
                block_bytes, sized = max(1 << 16, chunk_rows * len(body) // max(1, lines)), True
            if not data:
                return


def _blank(body: bytes | memoryview) -> bool:
    """Only whitespace (blank lines at the end of a file); decided by the first bytes for a normal block."""
    return bytes(body[:256]).isspace() and bytes(body).isspace()


def _header_names(header: bytes, path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        return pcsv.read_csv(pa.py_buffer(header)).schema.names
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot read the CSV header: {exc}", where=str(path)) from None


INVALID_ROWS = b"mlctl.invalid_rows"  # schema metadata: {row index: reason} of rows that could not be parsed


def with_invalid_rows(table: pa.Table, invalid: Mapping[int, str]) -> pa.Table:
    """``table`` with an all-null row put back at each index of ``invalid``, the reasons in its metadata.

    The rows keep their positions, so row numbers stay those of the file and the scorer
    turns each one into a reject with its reason (mlctl.batch.score).
    """
    import json

    import pyarrow as pa

    nulls = pa.Table.from_arrays([pa.nulls(1, f.type) for f in table.schema], schema=table.schema)
    padded = pa.concat_tables([table, nulls])
    n = table.num_rows + len(invalid)
    order, kept = [], 0
    for i in range(n):
        if i in invalid:
            order.append(table.num_rows)
        else:
            order.append(kept)
            kept += 1
    out = padded.take(pa.array(order, pa.int64()))
    meta = {**(table.schema.metadata or {}), INVALID_ROWS: json.dumps({str(i): r for i, r in invalid.items()})}
    return out.replace_schema_metadata(meta)


def invalid_rows(table: pa.Table) -> dict[int, str]:
    """The rows ``with_invalid_rows`` marked, by index."""
    import json

    raw = (table.schema.metadata or {}).get(INVALID_ROWS)
    return {int(i): r for i, r in json.loads(raw).items()} if raw else {}
