"""The request log: every scored row appended to Parquet files by a background thread.

Files: ``<log_dir>/<model_version>/part-<UTC time>-<pid>-<n>.parquet``. Columns:
``request_id`` (str), ``timestamp`` (UTC, µs), ``model_version`` (str), ``role`` (``champion``, or
``shadow`` / ``canary`` for the second model of `mlctl serve --shadow/--canary`), ``endpoint``
(str), ``latency_ms`` (float, server-side time from the request's arrival to its prediction), one
column per input feature as the model saw it (float for numeric, str for
categorical; missing values are null; an unknown category is logged as sent),
``prediction`` (the label or value), and ``proba_<class>`` per class for
classifiers. A file is written as ``.part-*.parquet.inprogress`` (hidden from
readers such as pandas/pyarrow datasets) with one row group per flush, and
renamed when it reaches ``log_max_rows`` rows or ``log_max_seconds`` of age, when
another model version is logged while this one had nothing to write for ``IDLE_SECONDS`` (a reload),
and on shutdown. A second model (shadow, canary) is written at the same time to its own
version's file. A shadow (mlctl.serve.shadow) scores the tables the writer converted and its answers
are written by the writer too; its ``latency_ms`` is its table's scoring time. The request path only
appends to an in-memory queue; if the writer falls behind by ``max_queue`` requests, new
entries are dropped and counted (mlctl_request_log_dropped_total), never waited on.

Requests are buffered as columns (mlctl.serve.logblock); requests scored together
by the batcher are added together, from the call's feeds and outputs. The writer thread
hands each block back to the event loop to be converted to Arrow (numpy work
that holds the GIL) and freed, one block per loop callback, and only encodes
and writes Parquet itself (pyarrow releases the GIL there). A thread doing the
conversion on its own would take the GIL each time a request releases it (for
onnxruntime) and keep it for a whole slice, stalling every request in flight;
freeing a second of queued requests at once held the GIL for ~20 ms.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlctl.serve.logblock import BLOCK, Block

IDLE_SECONDS = 30.0  # a version's file with no rows this long, while another version logs: closed
LOOP_WAIT = 10.0  # seconds to wait for the loop to run a step before doing it in the thread
# what the batcher keeps of a request to log it once scored: endpoint, request id,
# start (time.perf_counter()), and the categorical values as sent (None when they are the inputs)
Note = tuple[str, str, float, "dict[str, list] | None"]


class RequestLog:
    """Column blocks → background thread → rotated Parquet files."""

    def __init__(
        self, log_dir: str | Path, *, max_rows: int, max_seconds: float, flush_seconds: float, max_queue: int = 50_000
    ):
        self.dir = Path(log_dir)
        self.max_rows, self.max_seconds, self.flush_seconds = max_rows, max_seconds, flush_seconds
        self.max_queue = max_queue
        self.written = 0
        self.dropped = 0
        self.files: list[Path] = []
        self._blocks: list[Block] = []  # full and filling, oldest first; touched on the loop thread only
        self._queued = 0  # requests in self._blocks
        self._stop = threading.Event()
        self._open_files: dict[str, _File] = {}  # model version -> its file being written (champion, shadow...)
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.shadow: Any = None  # mlctl.serve.shadow.Shadow: scores what is logged, hands back its answers
        self._thread = threading.Thread(target=self._run, name="mlctl-request-log", daemon=True)

    def start(self, served: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Import pyarrow and build one table from the warm-up example, then start the writer.

        Done before the service reports ready: a first import inside the writer thread would
        hold the GIL for a second or more and stall the requests being served. ``loop`` is
        the server's: blocks are taken, converted and freed on it, between requests.
        """
        self._loop = loop
        import pyarrow.parquet  # noqa: F401

        checked = served.model.check_records([served.example], unknown="missing")
        pred = served.model.predict_checked(checked)
        block = Block(served)
        block.add("warm-up", "", time.time(), 0.0, checked.feeds, None, pred.labels, pred.probabilities)
        block.table()
        self._thread.start()

    def submit(
        self,
        served: Any,
        endpoint: str,
        request_id: str,
        timestamp: float,
        latency_ms: float,
        inputs: dict[str, Any],
        raw: dict[str, list] | None,
        labels: Any,
        probabilities: Any,
    ) -> None:
        """Called on the request path (the event loop): appends to columns, never touches the disk.

        Arguments as for ``Block.add``: value lists or arrays, labels and probability rows.
        """
        if self._queued >= self.max_queue:
            self.dropped += 1
            return
        self._block(served).add(endpoint, request_id, timestamp, latency_ms, inputs, raw, labels, probabilities)
        self._queued += 1

    def scored(
        self, served: Any, notes: list[Note | None], sizes: list[int], parts: list, feeds: dict, pred: Any
    ) -> None:
        """Called on the event loop after one onnxruntime call: log the requests in it that came with a note.

        ``sizes`` and ``parts``: each request's rows and inputs, in order; ``feeds`` and ``pred``:
        the call's inputs and outputs.
        """
        now, wall = time.perf_counter(), time.time()
        if len(notes) == 1 or None in notes or any(note[3] is not None for note in notes):
            # alone, or beside a request not logged here or one from the validator: request by request
            start = 0
            for note, rows, part in zip(notes, sizes, parts, strict=True):
                end = start + rows
                if note is not None:
                    endpoint, request_id, began, raw = note
                    labels = pred.labels[start:end]
                    probabilities = None if pred.probabilities is None else pred.probabilities[start:end]
                    latency_ms = (now - began) * 1000
                    self.submit(served, endpoint, request_id, wall, latency_ms, part, raw, labels, probabilities)
                start = end
            return
        if self._queued >= self.max_queue:
            self.dropped += len(notes)
            return
        endpoints, ids, starts, _ = zip(*notes, strict=True)
        latencies = [(now - start) * 1000 for start in starts]
        self._block(served).add_batch(endpoints, ids, wall, latencies, sizes, feeds, pred.labels, pred.probabilities)
        self._queued += len(notes)

    def _block(self, served: Any) -> Block:
        """The block being filled (blocks hold one model version each)."""
        for block in reversed(self._blocks[-4:]):  # a canary or shadow interleaves a second model's requests
            if block.served is served:
                if block.requests < BLOCK:
                    return block
                break
        block = Block(served)
        self._blocks.append(block)
        return block

    def stats(self) -> dict:
        return {"written": self.written, "dropped": self.dropped}

    def close(self) -> None:
        """Stop the thread after writing everything queued, and finish the open file."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        else:
            self._drain()
            self._finish_shadow()
            self._rotate()

    # -- writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            written = self._drain()
            now = time.monotonic()
            for version, f in list(self._open_files.items()):
                idle = written and version not in written and now - f.last >= IDLE_SECONDS
                if idle or now - f.opened >= self.max_seconds:
                    self._rotate(version)
        self._drain()
        self._finish_shadow()
        self._rotate()

    def _finish_shadow(self) -> None:
        """Let the shadow score the last tables, and write its answers."""
        if self.shadow is not None:
            self.shadow.finish()
            for served, table in self.shadow.answers():
                self._write(served, [table])

    def _take(self) -> list[Block]:
        blocks, self._blocks, self._queued = self._blocks, [], 0
        return blocks

    def _drain(self) -> set[str]:
        """Write every queued block, one table per model (blocks of several models interleave); the versions."""
        tables: dict[int, tuple[Any, list[Any]]] = {}
        shadow = self.shadow
        for block in self.on_loop(self._take):
            requests = block.requests
            table = self.on_loop(_convert(block))
            tables.setdefault(id(block.served), (block.served, []))[1].append(table)
            if shadow is not None:
                shadow.submit(table, requests)
        if shadow is not None:  # answers to earlier tables (the shadow scores while this thread writes)
            for served, table in shadow.answers():
                tables.setdefault(id(served), (served, []))[1].append(table)
        for served, parts in tables.values():
            self._write(served, parts)
        return {served.version for served, _ in tables.values()}

    def on_loop(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` run on the event loop when one is running (no GIL convoy), else here."""
        loop = self._loop
        if loop is not None and loop.is_running():
            done: concurrent.futures.Future = concurrent.futures.Future()

            def call() -> None:
                if not done.set_running_or_notify_cancel():
                    return  # the writer gave up waiting and ran it itself
                try:
                    done.set_result(fn())
                except BaseException as exc:
                    done.set_exception(exc)

            try:
                loop.call_soon_threadsafe(call)
            except RuntimeError:  # the loop closed meanwhile (shutdown)
                return fn()
            try:
                return done.result(timeout=LOOP_WAIT)
            except concurrent.futures.TimeoutError:
                if not done.cancel():  # the loop has started it: exactly once, there
                    return done.result()
                # the loop stopped or is stuck: run it here, and the queued call will not
        return fn()

    def _write(self, served: Any, tables: list[Any]) -> None:
        import pyarrow as pa

        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        version = served.version
        f = self._open_files.get(version)
        if f is not None and f.writer.schema != table.schema:
            self._rotate(version)
            f = None
        if f is None:
            f = self._open(version, table.schema)
        f.writer.write_table(table)
        f.rows += table.num_rows
        f.last = time.monotonic()
        self.written += table.num_rows
        if f.rows >= self.max_rows:
            self._rotate(version)

    def _open(self, version: str, schema: Any) -> _File:
        import pyarrow.parquet as pq

        folder = self.dir / version
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"part-{stamp}-{os.getpid()}-{self._seq}.parquet"
        tmp, final = folder / f".{name}.inprogress", folder / name
        f = self._open_files[version] = _File(pq.ParquetWriter(tmp, schema), tmp, final)
        return f

    def _rotate(self, version: str | None = None) -> None:
        """Finish ``version``'s file (every open file when None)."""
        for v in [version] if version is not None else list(self._open_files):
            f = self._open_files.pop(v, None)
            if f is None:
                continue
            f.writer.close()
            os.replace(f.tmp, f.final)
            self.files.append(f.final)


class _File:
    """One version's Parquet file being written."""

    __slots__ = ("final", "last", "opened", "rows", "tmp", "writer")

    def __init__(self, writer: Any, tmp: Path, final: Path):
        self.writer, self.tmp, self.final = writer, tmp, final
        self.rows = 0
        self.opened = self.last = time.monotonic()


def _convert(block: Block) -> Callable[[], Any]:
    """The block's table; the block's columns are freed right after, on the same loop callback."""

    def convert() -> Any:
        table = block.table()
        block.clear()  # free the arrays here and now, a block's worth at a time
        return table

    return convert
