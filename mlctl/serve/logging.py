"""The request log: every scored row appended to Parquet files by a background thread.

Files: ``<log_dir>/<model_version>/part-<UTC time>-<pid>-<n>.parquet``. Columns:
``request_id`` (str), ``timestamp`` (UTC, µs), ``model_version`` (str), ``endpoint``
(str), ``latency_ms`` (float, server-side time of the whole request), one
column per input feature as the model saw it (float for numeric, str for
categorical; missing values are null; an unknown category is logged as sent),
``prediction`` (the label or value), and ``proba_<class>`` per class for
classifiers. A file is written as ``.part-*.parquet.inprogress`` (hidden from
readers such as pandas/pyarrow datasets) with one row group per flush, and
renamed when it reaches ``log_max_rows`` rows or ``log_max_seconds`` of age, when
the model version changes, and on shutdown. The request path only appends to an
in-memory queue; if the writer falls behind by ``max_queue`` requests, new
entries are dropped and counted (mlctl_request_log_dropped_total), never waited on.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

SLICE = 256  # entries converted to Arrow between two yields of the GIL


class Entry(NamedTuple):
    served: Any  # mlctl.serve.state.Served: version, names, kinds, classes
    endpoint: str
    request_id: str
    timestamp: float  # epoch seconds
    latency_ms: float
    feeds: dict[str, np.ndarray]
    raw: dict[str, list] | None  # raw categorical values, to log unknown categories as sent
    labels: np.ndarray
    probabilities: np.ndarray | None


class RequestLog:
    """Queue → background thread → rotated Parquet files."""

    def __init__(
        self, log_dir: str | Path, *, max_rows: int, max_seconds: float, flush_seconds: float, max_queue: int = 50_000
    ):
        self.dir = Path(log_dir)
        self.max_rows, self.max_seconds, self.flush_seconds = max_rows, max_seconds, flush_seconds
        self.max_queue = max_queue
        self.written = 0
        self.dropped = 0
        self.files: list[Path] = []
        self._queue: collections.deque[Entry] = collections.deque()
        self._stop = threading.Event()
        self._writer: Any = None
        self._file: tuple[Path, Path] | None = None  # (in-progress path, final path)
        self._file_rows = 0
        self._file_opened = 0.0
        self._version: str | None = None
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name="mlctl-request-log", daemon=True)

    def start(self, served: Any) -> None:
        """Import pyarrow and build one table from the warm-up example, then start the writer.

        Done before the service reports ready: a first import inside the writer thread would
        hold the GIL for a second or more and stall the requests being served.
        """
        import pyarrow.parquet  # noqa: F401

        checked = served.model.check_records([served.example], unknown="missing")
        pred = served.model.predict_checked(checked)
        to_table([Entry(served, "warm-up", "", time.time(), 0.0, checked.feeds, None, pred.labels, pred.probabilities)])
        self._thread.start()

    def submit(self, entry: Entry) -> None:
        """Called on the request path: O(1), never touches the disk."""
        if len(self._queue) >= self.max_queue:
            self.dropped += 1
            return
        self._queue.append(entry)

    def stats(self) -> dict:
        return {"written": self.written, "dropped": self.dropped}

    def close(self) -> None:
        """Stop the thread after writing everything queued, and finish the open file."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        else:
            self._drain()
            self._rotate()

    # -- writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self._drain()
            if self._file and time.monotonic() - self._file_opened >= self.max_seconds:
                self._rotate()
        self._drain()
        self._rotate()

    def _drain(self) -> None:
        batch: list[Entry] = []
        while self._queue:
            batch.append(self._queue.popleft())
        # consecutive entries of one model version form one table
        start = 0
        for i in range(1, len(batch) + 1):
            if i == len(batch) or batch[i].served is not batch[start].served:
                self._write(batch[start:i])
                start = i

    def _write(self, entries: list[Entry]) -> None:
        if not entries:
            return
        import pyarrow as pa

        served = entries[0].served
        # converted in slices, yielding the GIL between them: one long conversion would stall
        # the event loop (and every request in flight) for its whole duration
        tables = []
        for start in range(0, len(entries), SLICE):
            if start:
                time.sleep(0)
            tables.append(to_table(entries[start : start + SLICE]))
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        if self._version != served.version or self._writer is None or self._writer.schema != table.schema:
            self._rotate()
            self._open(served.version, table.schema)
        self._writer.write_table(table)
        self._file_rows += table.num_rows
        self.written += table.num_rows
        if self._file_rows >= self.max_rows:
            self._rotate()

    def _open(self, version: str, schema: Any) -> None:
        import pyarrow.parquet as pq

        folder = self.dir / version
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"part-{stamp}-{os.getpid()}-{self._seq}.parquet"
        tmp, final = folder / f".{name}.inprogress", folder / name
        self._writer = pq.ParquetWriter(tmp, schema)
        self._file = (tmp, final)
        self._file_rows = 0
        self._file_opened = time.monotonic()
        self._version = version

    def _rotate(self) -> None:
        if self._writer is None or self._file is None:
            return
        self._writer.close()
        tmp, final = self._file
        os.replace(tmp, final)
        self.files.append(final)
        self._writer, self._file, self._version = None, None, None


def to_table(entries: list[Entry]):
    """One Arrow table from log entries of the same model.

    Per-entry Python work is one attribute read per field; everything per row runs in
    numpy/pyarrow, so the writer thread holds the GIL for as short a time as possible.
    """
    import pyarrow as pa

    served = entries[0].served
    counts = np.fromiter((len(e.labels) for e in entries), dtype=np.int64, count=len(entries))
    total = int(counts.sum())
    single = total == len(entries)  # the common case: one row per request, nothing to repeat

    def per_row(values: np.ndarray) -> np.ndarray:
        return values if single else np.repeat(values, counts)

    stamps = np.fromiter((e.timestamp for e in entries), dtype=np.float64, count=len(entries))
    cols: dict[str, Any] = {
        "request_id": pa.array(per_row(_objects([e.request_id for e in entries])), pa.string()),
        "timestamp": pa.array(per_row(np.round(stamps * 1e6).astype("int64")), pa.timestamp("us", tz="UTC")),
        "model_version": pa.array(np.full(total, served.version, dtype=object), pa.string()),
        "endpoint": pa.array(per_row(_objects([e.endpoint for e in entries])), pa.string()),
        "latency_ms": pa.array(
            per_row(np.fromiter((e.latency_ms for e in entries), dtype=np.float64, count=len(entries)))
        ),
    }
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for name in served.names:
        values = np.concatenate([e.feeds[name] for e in entries]).reshape(-1)  # feeds are (n, 1)
        if served.kinds[name] == "numeric":
            cols[name] = pa.array(values.astype("float64"), pa.float64(), from_pandas=True)
        else:
            cols[name] = pa.array(_categorical(values, entries, name, starts), pa.string())
    labels = np.concatenate([e.labels for e in entries]).reshape(-1)
    if served.task == "regression":
        cols["prediction"] = pa.array(labels.astype("float64"))
    elif labels.dtype.kind in "iu":
        cols["prediction"] = pa.array(labels.astype("int64"))
    else:
        cols["prediction"] = pa.array(labels.astype(str), pa.string())
    if served.class_keys is not None and all(e.probabilities is not None for e in entries):
        probs = np.concatenate([e.probabilities for e in entries]).astype("float64")
        for j, key in enumerate(served.class_keys):
            cols[f"proba_{key}"] = pa.array(probs[:, j])
    return pa.table(cols)


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _categorical(values: np.ndarray, entries: list[Entry], name: str, starts: np.ndarray) -> np.ndarray:
    """A categorical column as logged: missing is null, an unknown category (fed as missing) as sent."""
    logged = values.astype(object)
    blank = np.flatnonzero(logged == "")  # the missing category; usually few rows, looked at one by one
    if len(blank):
        which = np.searchsorted(starts, blank, side="right") - 1
        for i, e in zip(blank.tolist(), which.tolist(), strict=True):
            raw = entries[e].raw
            sent = raw[name][i - int(starts[e])] if raw else None
            logged[i] = sent if isinstance(sent, str) and sent else None
    return logged
