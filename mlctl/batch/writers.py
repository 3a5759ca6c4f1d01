"""Streaming table writers (Parquet, CSV, JSON lines) with one fixed schema.

They write to whatever path they are given; the stage hands them the temporary
path of ``mlctl.io.atomic_path`` so nothing appears under the final name until
the whole job has succeeded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlctl.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa


class TableWriter:
    """Append Arrow tables to one file in ``fmt``; every table is cast to ``schema`` first."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema):
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        self.path, self.fmt, self.schema = Path(path), fmt, schema
        self.rows = 0
        self._fh = None
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(
                self.path, schema, compression="snappy", use_dictionary=dictionary_columns(schema)
            )
        elif fmt == "csv":
            self._writer = pcsv.CSVWriter(self.path, schema)
        else:
            self._writer = None
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def write(self, table: pa.Table) -> None:
        import pyarrow as pa

        if table.num_rows == 0:
            return
        try:
            table = table.select(self.schema.names).cast(self.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                f"a column's type changes between input chunks or files: {exc}",
                hint="give every input file the same column types",
            ) from None
        if self._fh is not None:
            text = table.to_pandas().to_json(orient="records", lines=True, date_format="iso")
            self._fh.write(text if text.endswith("\n") else text + "\n")
        else:
            self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        else:
            self._writer.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Dictionary-encode text columns only: on unique numbers it costs 4x the write time for nothing."""
    import pyarrow as pa

    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
