"""`collect`: gather the sources in ``collect:`` into data/raw/ (one Parquet file + manifest).

Every source is read and checked before anything is written, so a missing,
unreachable or unparseable source leaves no partial output. The manifest
records rows, column dtypes, the content hash and a fingerprint per source.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import reduce
from typing import TYPE_CHECKING, Any

from mlctl.errors import ConfigError, DataError
from mlctl.progress import NoProgress

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.params import Common
    from mlctl.params.collect import CollectParams
    from mlctl.progress import Progress
    from mlctl.project import Project
    from mlctl.sources import SourceData


FRAME_HASH = "mlctl.io.frame_hash (sha256 of dtypes + pandas row hashes)"
FILE_HASH = "sha256 of the Parquet file's bytes (the single source, copied verbatim)"


@dataclass
class CollectResult:
    """What `mlctl collect` wrote."""

    rows: int
    columns: int
    hash: str
    output: str
    manifest: str
    sources: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unchanged: bool = False  # the content fingerprint matched: data/raw was left byte for byte as it was

    def to_dict(self) -> dict:
        return asdict(self)


def combine(parts: list[SourceData], params: CollectParams) -> pd.DataFrame:
    """Concatenate the sources (same columns) or join them on ``join_on``."""
    import pandas as pd

    if len(parts) == 1:
        return parts[0].frame
    if params.combine == "concat":
        first = parts[0]
        for part in parts[1:]:
            if set(part.frame.columns) != set(first.frame.columns):
                extra = sorted(set(part.frame.columns) - set(first.frame.columns))
                missing = sorted(set(first.frame.columns) - set(part.frame.columns))
                raise DataError(
                    f"source {part.name!r} has other columns than {first.name!r} (extra {extra}, missing {missing})",
                    where=part.location,
                    hint="concatenated sources must share their columns; or use `combine: join` with `join_on`",
                )
        return pd.concat([p.frame[list(first.frame.columns)] for p in parts], ignore_index=True)
    for part in parts:
        missing = [k for k in params.join_on if k not in part.frame.columns]
        if missing:
            raise DataError(
                f"source {part.name!r} lacks the join column(s) {missing}",
                where=part.location,
                hint=f"its columns are {list(part.frame.columns)}; check collect.join_on",
            )

    def join(left: pd.DataFrame, part: SourceData) -> pd.DataFrame:
        # clashing non-key columns keep the first source's name; later ones get `_<source>`
        return left.merge(part.frame, on=params.join_on, how=params.join_how, suffixes=("", f"_{part.name}"))

    joined = reduce(join, parts[1:], parts[0].frame)
    if joined.empty:
        raise DataError(
            f"joining the sources on {params.join_on} ({params.join_how}) gave no rows",
            where="collect.join_on",
            hint="check that the key values match across sources, or use join_how: left/outer",
        )
    return joined


def check_combined(df: pd.DataFrame, target: str, nulls: dict[str, int], rows: int) -> list[str]:
    """Refuse data without the target; return warnings (all-null columns)."""
    from mlctl.cleaning import nearest

    if target not in df.columns:
        raise ConfigError(
            f"target column {target!r} is not in the collected data",
            where="params.yaml: target",
            hint=f"set `target:` in params.yaml or fix the sources; {nearest(target, list(df.columns))}",
        )
    return [f"column {c!r} is entirely null" for c, k in nulls.items() if k == rows]


def manifest(
    df: pd.DataFrame,
    parts: list[SourceData],
    params: CollectParams,
    digest: str,
    *,
    rows: int,
    nulls: dict[str, int],
    warnings: list[str],
) -> dict:
    """The manifest written beside the data."""
    from mlctl import __version__

    return {
        "rows": rows,
        "columns": [{"name": c, "dtype": str(t), "nulls": nulls[c]} for c, t in df.dtypes.items()],
        "hash": digest,
        "hash_method": FILE_HASH if _copied(parts) else FRAME_HASH,
        "output": params.output,
        "combine": params.combine if len(parts) > 1 else None,
        **({"join_on": params.join_on, "join_how": params.join_how} if params.combine == "join" else {}),
        "sources": [p.describe() for p in parts],
        "warnings": warnings,
        "mlctl_version": __version__,
    }


def run(params: CollectParams, common: Common, project: Project, progress: Progress | None = None) -> CollectResult:
    """Read every source, combine, check the target, then write data + manifest atomically."""
    from mlctl.io import frame_hash, write_json
    from mlctl.profile import null_counts
    from mlctl.sources import normalise, read_source

    started = time.perf_counter()
    progress = progress or NoProgress()
    output = project.path(params.output, what="collect.output")
    manifest_path = project.path(params.manifest, what="collect.manifest")
    if output.suffix.lower() not in (".parquet", ".pq"):
        raise ConfigError("collect.output must be a .parquet file", where=params.output)
    progress.start("collect: reading sources", total=len(params.sources))
    parts = []
    for source in params.sources:
        # a lone plain Parquet file is copied, not re-encoded: its metadata is all collect needs
        parts.append(read_source(source, project, outline=len(params.sources) == 1))
        progress.advance()
    progress.done()
    df = combine(parts, params)
    df, notes = normalise(df, "combined data") if len(parts) > 1 else (df, [])
    outlined = len(parts) == 1 and parts[0].rows is not None
    rows = parts[0].rows if outlined else len(df)
    nulls = parts[0].nulls if outlined else null_counts(df)
    warnings = [w for p in parts for w in p.warnings] + notes + check_combined(df, common.target, nulls, rows)
    # the copied file's bytes are the data: their sha256 (already taken as the fingerprint) identifies it
    digest = parts[0].fingerprint if _copied(parts) else frame_hash(df)
    info = manifest(df, parts, params, digest, rows=rows, nulls=nulls, warnings=warnings)
    # Only now, with every source read and checked, is anything written; and nothing when the content
    # is the same as last time, so DVC sees identical outputs and skips every stage after collect.
    unchanged = _same_as_before(output, manifest_path, info)
    if not unchanged:
        _write_data(df, parts, output)
    if _read_manifest(manifest_path) != info:
        write_json(manifest_path, info)
    return CollectResult(
        rows=rows,
        columns=len(df.columns),
        hash=digest,
        output=project.rel(output),
        manifest=project.rel(manifest_path),
        sources=info["sources"],
        warnings=warnings,
        seconds=round(time.perf_counter() - started, 3),
        unchanged=unchanged,
    )


def _read_manifest(path: Any) -> dict | None:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _same_as_before(output: Any, manifest_path: Any, info: dict) -> bool:
    """True when ``output`` exists and the last manifest recorded the same content hash for it."""
    before = _read_manifest(manifest_path)
    if not before or not output.is_file():
        return False
    keys = ("hash", "hash_method", "output", "rows")
    if not (all(before.get(k) == info.get(k) for k in keys) and before.get("columns") == info.get("columns")):
        return False
    try:  # a cheap check that the file is still the one the manifest describes (its footer only)
        import pyarrow.parquet as pq

        return pq.read_metadata(output).num_rows == info.get("rows")
    except (OSError, ValueError):
        return False


def _copied(parts: list[SourceData]) -> bool:
    """True when the output is the single source's Parquet file, byte for byte."""
    return len(parts) == 1 and parts[0].verbatim


def _write_data(df: pd.DataFrame, parts: list[SourceData], output: Any) -> None:
    """Write the Parquet file; a single Parquet source read as is is copied byte for byte."""
    import shutil

    from mlctl.io import atomic_path, write_table

    if _copied(parts):
        # Re-encoding a large Parquet file costs more than reading it; its bytes already hold this frame.
        with atomic_path(output) as tmp:
            shutil.copyfile(parts[0].paths[0], tmp)
        return
    write_table(df, output)
