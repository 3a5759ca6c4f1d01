"""Source readers for `mlctl collect`: files and globs (local), SQL, HTTP(S) and scikit-learn datasets (external).

Each reader returns a ``SourceData``: the frame plus a fingerprint (what was
read, hashed) for the manifest. Every failure names the source and says what
to change in ``collect.sources`` (a delimiter, an encoding, a path...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlctl.core.errors import DataError
from mlctl.data.sources import external
from mlctl.data.sources.local import SourceData, _is_plain, _read_files, _resolve_files, normalise, parse_table
from mlctl.data.sources.parquet_outline import outline_parquet

if TYPE_CHECKING:
    from mlctl.core.project import Project
    from mlctl.params.collect import Source

__all__ = ["SourceData", "normalise", "parse_table", "read_source"]


def read_source(source: Source, project: Project, *, outline: bool = False) -> SourceData:
    """Read one configured source, failing with its name on any problem (``outline``: see parquet_outline)."""
    if outline and source.kind == "parquet" and not source.read_options:
        files = _resolve_files(source, project)
        data = outline_parquet(source, project, files[0]) if len(files) == 1 else None
        if data is not None:
            return data
    readers = {"csv": _read_files, "parquet": _read_files, "jsonl": _read_files}
    readers.update({"sql": external.read_sql, "http": external.read_http})
    readers["sklearn"] = external.read_sklearn
    data = readers[source.kind](source, project)
    if data.frame.empty or len(data.frame.columns) == 0:
        raise DataError(
            f"source {source.name!r} has no data rows", where=data.location, hint="check that the source is filled"
        )
    untouched = _is_plain(data.frame)
    data.frame, notes = normalise(data.frame, source.name)
    data.warnings.extend(notes)
    data.verbatim = untouched and source.kind == "parquet" and len(data.paths) == 1 and not source.read_options
    return data
