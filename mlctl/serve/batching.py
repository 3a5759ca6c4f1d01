"""Adaptive batching: /predict requests that are in flight together share one onnxruntime call.

A one-row call costs onnxruntime almost as much as a 30-row one (per-call and
per-node overhead, and a cache warmed for one call is cold again by the next).
Under concurrent load, requests that reach the model in the same event-loop turn
are concatenated, scored once, and their rows handed back. Nothing ever waits for
a batch to fill (MLServer's ``max_batch_time`` is 0 here): a request waits at
most one loop turn, and once several batches in a row held a single request
(one client at a time), requests are scored at once again, with one in
``PROBE`` still deferred to notice when concurrency returns.

Every model mlctl exports scores rows independently (preprocessing and the
estimator work row by row), so a row gets the same answer in any batch, up to
float32 rounding: linear models score a batch with a matrix product whose
summation order may change the last bit (tests/test_serve_batching.py).
`mlctl predict` scores in chunks too, so this is the tolerance the two already share.

With a request log, each scored batch is logged in one step from its feeds and
outputs (``RequestLog.scored``): what the model saw, already in columns. Logging
request by request cost more than the log's whole conversion and writing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from mlctl.onnxmodel.runtime import Prediction
from mlctl.serve.plain import Columns, to_feeds
from mlctl.serve.state import Served

if TYPE_CHECKING:
    from mlctl.serve.requestlog import Note, RequestLog

log = logging.getLogger("mlctl.serve")
LONELY = 8  # consecutive one-request batches after which requests are scored at once
PROBE = 16  # ... except one in this many, which still waits a turn to see if others come


class _Batch:
    __slots__ = ("futures", "notes", "parts", "rows", "served", "sizes")

    def __init__(self, served: Served):
        self.served = served
        self.parts: list[Columns] = []
        self.sizes: list[int] = []
        self.notes: list[Note | None] = []
        self.futures: list[asyncio.Future] = []
        self.rows = 0


class Batcher:
    """Score each request's feeds, batched with the others in flight; ``max_rows`` 1 turns it off."""

    def __init__(self, max_rows: int, log: RequestLog | None = None):
        self.max_rows = max_rows
        self.log = log  # scored requests that came with a note are logged here
        self.lonely = 0  # consecutive batches of a single request
        self.direct = 0  # requests scored at once since batching went quiet (every PROBE-th still waits)
        self.calls = 0  # onnxruntime calls made for batches, and the requests they served
        self.batched = 0
        self._pending: _Batch | None = None

    async def score(self, served: Served, columns: Columns, rows: int, note: Note | None = None) -> Prediction:
        """Predictions for one request's validated ``columns`` (``rows`` rows); logged if ``note`` is given."""
        batch = self._pending
        if batch is None or batch.served is not served or batch.rows + rows > self.max_rows:
            if rows >= self.max_rows:
                return self._run(served, [columns], [rows], [note])  # big enough by itself
            if self.lonely >= LONELY:
                self.direct += 1
                if self.direct % PROBE:
                    return self._run(served, [columns], [rows], [note])  # nobody to batch with lately
            batch = self._pending = _Batch(served)
            # runs after the requests already scheduled in this loop turn, which join it meanwhile
            asyncio.get_running_loop().call_soon(self._flush, batch)
        future = asyncio.get_running_loop().create_future()
        batch.parts.append(columns)
        batch.sizes.append(rows)
        batch.notes.append(note)
        batch.futures.append(future)
        batch.rows += rows
        return await future

    def _run(self, served: Served, parts: list[Columns], sizes: list[int], notes: list) -> Prediction:
        feeds = to_feeds(served.plan, parts)
        pred = served.model.run(feeds)
        if self.log is not None:
            # a request whose client left meanwhile is logged too: the model did score it
            self.log.scored(served, notes, sizes, parts, feeds, pred)
        return pred

    def _flush(self, batch: _Batch) -> None:
        if self._pending is batch:
            self._pending = None
        self.lonely = self.lonely + 1 if len(batch.parts) == 1 else 0
        served = batch.served
        if len(batch.parts) == 1:
            self._settle(batch.futures[0], served, batch.parts[0], batch.sizes[0], batch.notes[0])
            return
        try:
            pred = self._run(served, batch.parts, batch.sizes, batch.notes)
        except Exception:  # score one by one, so one request's failure stays its own
            log.warning("batched onnxruntime call failed; scoring its %d requests one by one", len(batch.parts))
            for part, rows, note, future in zip(batch.parts, batch.sizes, batch.notes, batch.futures, strict=True):
                self._settle(future, served, part, rows, note)
            return
        self.calls += 1
        self.batched += len(batch.parts)
        start = 0
        for rows, future in zip(batch.sizes, batch.futures, strict=True):
            end = start + rows
            probabilities = None if pred.probabilities is None else pred.probabilities[start:end]
            if not future.cancelled():
                future.set_result(Prediction(pred.labels[start:end], probabilities))
            start = end

    def _settle(self, future: asyncio.Future, served: Served, columns: Columns, rows: int, note: Note | None) -> None:
        if future.cancelled():
            return
        try:
            future.set_result(self._run(served, [columns], [rows], [note]))
        except Exception as exc:
            future.set_exception(exc)
