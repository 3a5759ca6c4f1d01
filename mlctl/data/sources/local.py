"""File and glob sources (CSV, Parquet, JSON lines), the SourceData they return and the frame normalisation.

Each reader returns a ``SourceData``: the frame plus a fingerprint (what was
read, hashed) for the manifest. Every failure names the source and says what
to change in ``collect.sources`` (a delimiter, an encoding, a path...).
"""

from __future__ import annotations

import glob
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, DataError, InputNotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.project import Project
    from mlctl.params.collect import Source

# Bundled with scikit-learn (no download); the fetch_* loaders are refused on purpose.
_OTHER_SEPARATORS = {";": '";"', "\t": '"\\t"', "|": '"|"'}
_MANGLED = re.compile(r"^(.*)\.(\d+)$")  # pandas renames a repeated header `a` to `a.1`


@dataclass
class SourceData:
    """One source, read: its frame and how it was fingerprinted."""

    name: str
    kind: str
    location: str
    frame: pd.DataFrame
    fingerprint: str
    files: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)  # the local files read, if any
    verbatim: bool = False  # one Parquet file read as is: collect may copy its bytes
    rows: int | None = None  # set when only the Parquet metadata was read: frame is then empty, with the dtypes
    nulls: dict[str, int] | None = None  # missing values per column, with ``rows``

    def describe(self) -> dict[str, Any]:
        """The manifest entry for this source."""
        return {
            "name": self.name,
            "kind": self.kind,
            "location": self.location,
            "rows": len(self.frame) if self.rows is None else self.rows,
            "columns": len(self.frame.columns),
            "fingerprint": self.fingerprint,
            **({"files": self.files} if self.files else {}),
        }


def _is_plain(df: pd.DataFrame) -> bool:
    """True when ``normalise`` would leave ``df`` as it is."""
    import pandas as pd

    plain_index = isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1
    plain_index = plain_index and df.index.name is None
    has_object = any(pd.api.types.is_object_dtype(t) for t in df.dtypes)
    return plain_index and all(isinstance(c, str) for c in df.columns) and not has_object


def normalise(df: pd.DataFrame, label: str) -> tuple[pd.DataFrame, list[str]]:
    """Give every column a Parquet-storable type; mixed-type columns become text (with a warning)."""
    import pandas as pd

    notes = []
    if any(name is not None for name in df.index.names):  # a named index is data (e.g. an id): keep it
        df = df.reset_index()
    elif not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        df = df.reset_index(drop=True)
    if not all(isinstance(c, str) for c in df.columns):
        df = df.rename(columns=str)
    if df.columns.has_duplicates:
        repeated = sorted({c for c in df.columns if (df.columns == c).sum() > 1})
        raise DataError(
            f"{label}: repeated column name(s) {repeated}", where=label, hint="give each column a unique name"
        )
    for name in [c for c, t in df.dtypes.items() if pd.api.types.is_object_dtype(t)]:
        col = df[name]
        inferred = pd.api.types.infer_dtype(col, skipna=True)
        if inferred in ("string", "empty"):
            df[name] = col.astype("str")
        elif inferred in ("boolean", "integer", "floating", "datetime", "date", "decimal"):
            continue  # one Python type: pyarrow stores it as is
        else:  # e.g. numbers and words from JSON lines: keep every value, as text
            df[name] = col.where(col.isna(), col.astype(str)).astype("str")
            notes.append(f"{label}: column {name!r} mixes value types ({inferred}); stored as text")
    return df, notes


# ---- files -------------------------------------------------------------------


def _resolve_files(source: Source, project: Project) -> list[Path]:
    """The files a path or glob names, inside the project, in a stable order."""
    pattern = str(source.path)
    if glob.has_magic(pattern):
        matches = sorted(glob.glob(str(project.root / pattern), recursive=True))
        files = [project.path(m, what="source path") for m in matches if Path(m).is_file()]
        if not files:
            raise InputNotFoundError(
                f"source {source.name!r}: the glob {pattern!r} matches no file",
                where=pattern,
                hint="globs are relative to the project root; check the pattern and that `dvc pull` ran",
            )
        return files
    path = project.path(pattern, what="source path")
    if not path.is_file():
        raise InputNotFoundError(
            f"source {source.name!r}: file not found",
            where=pattern,
            hint="paths are relative to the project root; check collect.sources[].path and that `dvc pull` ran",
        )
    return [path]


def _read_files(source: Source, project: Project) -> SourceData:
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd

    from mlctl.core.fileio import sha256_file

    files = _resolve_files(source, project)
    for path in files:
        if path.stat().st_size == 0:
            raise DataError(f"source {source.name!r}: the file is empty", where=project.rel(path), hint="fill it")
    with ThreadPoolExecutor(max_workers=1) as pool:
        # hashlib releases the GIL: the fingerprints are computed while pandas parses
        digests = [pool.submit(sha256_file, path) for path in files]
        try:
            options = dict(source.read_options)
            frames = [parse_table(path, source.kind, options, source.name, project.rel(path)) for path in files]
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        entries = [
            {"path": project.rel(path), "sha256": digest.result(), "bytes": path.stat().st_size}
            for path, digest in zip(files, digests, strict=True)
        ]
    for entry, frame in zip(entries[1:], frames[1:], strict=True):  # a glob's files must agree
        if list(frame.columns) != list(frames[0].columns):
            raise DataError(
                f"source {source.name!r}: columns differ from {entries[0]['path']}",
                where=entry["path"],
                hint=f"expected {list(frames[0].columns)}, got {list(frame.columns)}",
            )
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    joined = "\n".join(f"{e['path']}:{e['sha256']}" for e in entries)
    fingerprint = entries[0]["sha256"] if len(entries) == 1 else hashlib.sha256(joined.encode()).hexdigest()
    return SourceData(source.name, source.kind, str(source.path), frame, fingerprint, entries, paths=files)


def parse_table(src: Path | bytes, fmt: str, options: dict, name: str, label: str) -> pd.DataFrame:
    """Parse a CSV, Parquet or JSON-lines file (or downloaded bytes) with diagnostics for common mistakes."""
    import pandas as pd

    def handle() -> Any:
        return io.BytesIO(src) if isinstance(src, bytes) else src

    encoding = options.get("encoding", "utf-8")
    try:
        if fmt == "parquet":
            return pd.read_parquet(handle(), **options)
        if fmt == "jsonl":
            return pd.read_json(handle(), lines=True, **options)
        df = pd.read_csv(handle(), **options)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"source {name!r}: cannot decode the text as {encoding} ({exc.reason} at byte {exc.start})",
            where=label,
            hint=f"if the file is Latin-1/Windows text, set `read_options: {{encoding: latin-1}}` on source {name!r}",
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"source {name!r}: the file has no header and no rows", where=label) from None
    except TypeError as exc:  # an unknown read option
        raise ConfigError(f"source {name!r}: bad read_options: {exc}", where=label) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(
            f"source {name!r}: cannot read {fmt}: {first_line(exc)}",
            where=label,
            hint="check the file type and its contents" + ("; CSV: check `read_options: {sep: ...}`" * (fmt == "csv")),
        ) from None
    _check_csv_header(df, handle, options, name, label)
    return df


def _check_csv_header(df: pd.DataFrame, handle: Any, options: dict, name: str, label: str) -> None:
    """Catch a wrong delimiter and repeated column names, which pandas reads silently."""
    import pandas as pd

    if len(df.columns) == 1:
        header = str(df.columns[0])
        used = options.get("sep", options.get("delimiter", ","))
        for sep, shown in _OTHER_SEPARATORS.items():
            if sep in header and sep != used:
                raise DataError(
                    f"source {name!r} was read as one column {header[:60]!r}: the file looks {shown}-separated",
                    where=label,
                    hint=f"set `read_options: {{sep: {shown}}}` on source {name!r}",
                )
    cols = {str(c) for c in df.columns}
    suspicious = any((m := _MANGLED.match(str(c))) and m.group(1) in cols for c in df.columns)
    if suspicious and not {"header", "names"} & set(options):
        raw = pd.read_csv(handle(), header=None, nrows=1, dtype=str, **options).iloc[0].tolist()
        repeated = [c for c, k in Counter(raw).items() if k > 1]
        if repeated:
            raise DataError(
                f"source {name!r}: the header repeats column name(s) {repeated}",
                where=label,
                hint="give every column a unique name in the source (pandas would silently rename them to 'a.1')",
            )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
