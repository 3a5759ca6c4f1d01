"""The logged traffic to replay: request-log files (a directory or a glob), a time window, the champion's rows.

Files are found as `mlctl monitor` finds them (mlctl.stages.monitor.current.open_source) and read
with only the columns replay needs. A request log written with a shadow or a canary has a ``role``
column: the champion's answers are the rows whose role is ``champion`` (all rows of a log without
roles); the others are counted and reported, never compared.
"""

from __future__ import annotations

import datetime as dt
import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, DataError, InputNotFoundError, ModelError
from mlctl.stages.monitor.current import ID_COLUMN, VERSION_COLUMN, Source, open_source

if TYPE_CHECKING:
    import pyarrow as pa

    from mlctl.core.project import Project

ROLE_COLUMN = "role"
CHAMPION = "champion"
TIME_COLUMN = "timestamp"
FILE, ROW = "__file", "__row"  # where each row was read: file index, row in the file
NEEDED = (ID_COLUMN, VERSION_COLUMN, "prediction")  # without these it is not a request log
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass
class Traffic:
    """The champion's logged rows in the window, as one Arrow table, and what was left out."""

    table: pa.Table
    source: str
    files: int
    rows_read: int
    versions: dict[str, int]
    other_roles: dict[str, int] = field(default_factory=dict)
    outside_window: int = 0
    window: dict[str, str | None] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)  # the files read; ``FILE`` and ``ROW`` point into them

    def ids(self, rows: Any = None) -> list[str]:
        """The request ids of ``rows`` of the table (all rows when None), read from the files only now.

        Request ids are unique strings, the costliest column of a log to read; a replay needs a few
        (the largest disagreements, the rejects), or all of them only to join late labels. Only the
        row groups holding the rows asked for are read.
        """
        import numpy as np
        import pyarrow.parquet as pq

        rows = np.arange(self.table.num_rows) if rows is None else np.asarray(rows, dtype=np.int64)
        files = self.table[FILE].take(rows).to_numpy()
        positions = self.table[ROW].take(rows).to_numpy()
        out = np.empty(len(rows), dtype=object)
        for f in np.unique(files):
            mine = files == f
            pf = pq.ParquetFile(self.paths[f])
            starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
            wanted = positions[mine]
            group_of = np.searchsorted(starts, wanted, side="right") - 1
            groups = np.unique(group_of)
            column = pf.read_row_groups(groups.tolist(), columns=[ID_COLUMN])[ID_COLUMN]
            sizes = starts[groups + 1] - starts[groups]
            shift = np.zeros(len(starts), dtype=np.int64)  # file row -> row of what was read, per group
            shift[groups] = np.concatenate([[0], np.cumsum(sizes)[:-1]]) - starts[groups]
            local = wanted + shift[group_of]
            out[mine] = column.take(local.astype(np.int64)).to_pylist()
        return [str(v) for v in out]


def find_files(project: Project, log: str) -> tuple[str, list[Path]]:
    """The log's Parquet files: a directory (recursively), one file, or a glob relative to the project."""
    if any(c in log for c in "*?["):
        pattern = log if Path(log).is_absolute() else str(project.root / log)
        files = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        files = [f for f in files if not f.name.startswith((".", "_"))]
        if not files:
            raise InputNotFoundError(
                "no request-log files match the glob", where=log, hint="check the pattern (`**` for subfolders)"
            )
        return log, files
    source: Source = open_source(project.path(log, what="request log"))
    return project.rel(source.path), source.files


def parse_time(value: str | None, what: str, now: dt.datetime) -> dt.datetime | None:
    """An ISO time (UTC when no zone is given) or a duration back from ``now`` (30m, 12h, 7d, 2w)."""
    if value is None or value == "":
        return None
    m = DURATION.match(value)
    if m:
        return now - dt.timedelta(seconds=float(m.group(1)) * UNIT_SECONDS[m.group(2)])
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"cannot read {value!r} as a time", where=what, hint="an ISO time (2026-01-31T12:00) or 30m, 12h, 7d, 2w"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def read(
    files: list[Path],
    where: str,
    inputs: list[str],
    *,
    since: dt.datetime | None,
    until: dt.datetime | None,
    version: str | None,
    categorical: tuple[str, ...] = (),
) -> Traffic:
    """The champion's rows with the candidate's ``inputs``; clear errors for another schema or an empty window."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables, versions, roles = [], {}, {}
    read_rows = outside = 0
    for number, path in enumerate(files):
        if path.suffix.lower() not in (".parquet", ".pq"):
            raise DataError("a request log is Parquet", where=str(path), hint="point replay.log at `serve.log_dir`")
        try:
            names = pq.read_schema(path).names
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read parquet: {str(exc).splitlines()[0][:200]}", where=str(path)) from None
        lacking = [c for c in NEEDED if c not in names]
        if lacking:
            raise DataError(
                f"not a request log of `mlctl serve`: no column(s) {lacking}",
                where=str(path),
                hint="replay reads the Parquet files `mlctl serve` writes under serve.log_dir",
            )
        absent = [c for c in inputs if c not in names]
        if absent:
            raise ModelError(
                f"the candidate's input(s) {absent} are not in the log",
                where=str(path),
                hint=f"the log has {[c for c in names if c not in NEEDED][:20]}; a candidate with new inputs "
                "cannot be replayed on this traffic (serve a champion that takes them first: its log will have them)",
            )
        wanted = [*NEEDED[1:], *inputs, "latency_ms", ROLE_COLUMN, *([TIME_COLUMN] if since or until else [])]
        wanted += [c for c in names if c.startswith("proba_")]
        columns = [c for c in dict.fromkeys(wanted) if c in names]
        # text columns with few values come dictionary-encoded: filters, counts and codes work on the codes
        coded = [c for c in (*NEEDED[1:], ROLE_COLUMN, *categorical) if c in columns]
        # ParquetFile, not pq.read_table: that imports pyarrow.dataset (0.25 s of a 1M-row replay)
        table = pq.ParquetFile(path, read_dictionary=coded).read(columns=columns)
        positions = np.arange(table.num_rows, dtype=np.int64)
        table = table.append_column(FILE, pa.array(np.full(table.num_rows, number, dtype=np.int32)))
        table = table.append_column(ROW, pa.array(positions))
        read_rows += table.num_rows
        if ROLE_COLUMN in table.column_names:
            counted = _counts(table[ROLE_COLUMN])
            if set(counted) - {CHAMPION}:  # shadow or canary rows (nulls: a log written before roles)
                role = pc.fill_null(table[ROLE_COLUMN].cast(pa.string()), CHAMPION)
                others = pc.not_equal(role, CHAMPION)
                for k, n in counted.items():
                    if k not in (CHAMPION, "None"):
                        roles[k] = roles.get(k, 0) + n
                table = table.filter(pc.invert(others))
        if since is not None or until is not None:
            if TIME_COLUMN not in table.column_names:
                raise DataError("the log has no timestamp column: no time window", where=str(path))
            keep = _in_window(table[TIME_COLUMN], since, until)
            outside += table.num_rows - pc.sum(keep).as_py() if table.num_rows else 0
            table = table.filter(keep)
        if version is not None:
            table = table.filter(pc.equal(table[VERSION_COLUMN].cast(pa.string()), version))
        for k, n in _counts(table[VERSION_COLUMN]).items():
            versions[k] = versions.get(k, 0) + n
        if table.num_rows:
            tables.append(table)
    window = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
    if not tables:
        if read_rows == 0:
            raise InputNotFoundError("the request log has no rows", where=where)
        what = f"champion ({version}) " if version else "champion "
        raise InputNotFoundError(
            f"no {what}rows to replay in the window {window['since'] or '-∞'} .. {window['until'] or 'now'}"
            f" ({read_rows} rows read, {outside} outside the window, other roles {roles or 'none'})",
            where=where,
            hint="widen --since/--until, or check replay.champion_version",
        )
    table = pa.concat_tables(tables, promote_options="permissive")
    return Traffic(table, where, len(files), read_rows, versions, roles, outside, window, list(files))


def _counts(column: Any) -> dict[str, int]:
    import pyarrow.compute as pc

    out = {}
    for item in pc.value_counts(column).to_pylist():
        out[str(item["values"])] = out.get(str(item["values"]), 0) + int(item["counts"])
    return out


def _in_window(times: Any, since: dt.datetime | None, until: dt.datetime | None) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    times = times.cast(pa.timestamp("us", tz="UTC"))
    keep = pc.is_valid(times)
    if since is not None:
        keep = pc.and_(keep, pc.greater_equal(times, pa.scalar(since, pa.timestamp("us", tz="UTC"))))
    if until is not None:
        keep = pc.and_(keep, pc.less(times, pa.scalar(until, pa.timestamp("us", tz="UTC"))))
    return pc.fill_null(keep, False)
