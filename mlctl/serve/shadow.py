"""The shadow: a second model scores /predict requests off the response path and logs its answers.

After the champion's response is sent, the request is offered to the shadow (a share of requests
when serve.shadow_share < 1). When the champion's plain columns are valid shadow inputs (the usual
case: same schema), their values are appended to flat per-feature lists and nothing of the request
is kept: holding each request's parsed JSON until its batch kept thousands of small containers
alive through the garbage collector's young generations, which slowed every request in flight.
Other requests keep their instances. Every ``INTERVAL`` seconds the event loop takes what was
offered, validates the kept instances against the shadow's schema (the general validator) and
builds one batch of feeds; a thread of the
shadow's own runs onnxruntime on it (which releases the GIL), and the answers come back to the
loop for the request log, under the same request ids with role ``shadow``. The Python work stays
on the loop, in one callback per batch, like the request log's conversion (a thread doing it
would take the GIL from the requests in flight); the thread only waits on onnxruntime.

The client never waits for the shadow and never sees it: a shadow that raises or rejects a request
is counted (mlctl_shadow_requests_total{outcome=...}); a slow one holds its batch while requests
pile up, and those beyond serve.shadow_queue are dropped and counted (outcome="dropped").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import time
from collections import Counter
from typing import Any

from mlctl.serve.plain import plain_columns, to_feeds
from mlctl.serve.state import Served

log = logging.getLogger("mlctl.serve")
PATH = "/predict"  # the endpoint a shadow scores
INTERVAL = 0.05  # seconds between shadow batches: one onnxruntime call for every request offered meanwhile
OUTCOMES = ("scored", "rejected", "error", "dropped", "unlogged")


class Shadow:
    """The shadow model's pending requests, its scoring thread and its counts."""

    def __init__(self, served: Served, share: float, max_queue: int, unknown: str, max_rows: int):
        self.served = served
        self.share = share
        self.max_queue = max_queue
        self.unknown = unknown
        self.max_rows = max_rows
        self.outcomes: Counter = Counter()
        self.seconds = 0.0  # time spent scoring
        self.failures = 0  # failed shadow calls (warned about sparingly)
        # offered, not yet in a batch (event loop only): plain requests as flat columns, the rest as sent
        self._ids: list[str] = []
        self._sizes: list[int] = []
        self._columns: dict[str, list] = {}  # made by the batch's first plain request
        self._others: list[tuple[str, list]] = []
        self._fits: dict[int, bool] = {}  # id(a Plan) -> its plain columns are valid shadow inputs
        self._busy = False  # a batch is being scored
        self._scheduled = False  # a flush is scheduled
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._log: Any = None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mlctl-shadow")
        self._running: asyncio.Future | None = None

    def start(self, loop: asyncio.AbstractEventLoop, request_log: Any) -> None:
        self._loop, self._log = loop, request_log

    @property
    def waiting(self) -> int:
        return len(self._ids) + len(self._others)

    def fits(self, plan: Any) -> bool:
        """Whether plain columns validated for ``plan`` (the champion's, a canary's) are valid shadow inputs too."""
        known = self._fits.get(id(plan))
        if known is None:
            known = self._fits[id(plan)] = plan.specs == self.served.plan.specs
        return known

    def offer(self, request_id: str, instances: list, columns: Any = None) -> None:
        """On the event loop, after the response was sent: keep the request for the next batch (or drop it).

        ``columns``: the request's plain columns when they are valid shadow inputs (see ``fits``).
        """
        if self._closed or (self.share < 1.0 and random.random() >= self.share):
            return
        if self.waiting >= self.max_queue:
            self.outcomes["dropped"] += 1
            return
        if columns is None:
            self._others.append((request_id, instances))
        else:  # same names, same order: fits() compared the specs
            if not self._ids:  # the first of a batch: the columns of the model being shadowed now
                self._columns = {name: [] for name, _, _ in self.served.plan.specs}
            for name, values in self._columns.items():
                values.extend(columns[name])
            self._ids.append(request_id)
            self._sizes.append(len(instances))
        if not self._scheduled and not self._busy and self._loop is not None:
            self._scheduled = True
            self._loop.call_later(INTERVAL, self._flush)

    async def close(self) -> None:
        """Score what is pending, wait for it, stop the thread (on the loop, at shutdown)."""
        self._closed = True
        if self._running is not None:
            await asyncio.wait([self._running])
        if self.waiting:
            self._flush()
            if self._running is not None:
                await asyncio.wait([self._running])
        self._pool.shutdown(wait=True)

    # -- on the event loop ------------------------------------------------------------------

    def _flush(self) -> None:
        self._scheduled = False
        parts: list = []
        ids, sizes = self._ids, self._sizes
        if ids:  # the plain requests: one part holding all their rows
            parts.append(self._columns)
            self._ids, self._sizes = [], []
        others, self._others = self._others, []
        more, more_sizes, more_ids = self._validate(others)
        if not parts and not more:
            return
        parts += more
        sizes, ids = sizes + more_sizes, ids + more_ids
        feeds = to_feeds(self.served.plan, parts)
        self._busy = True
        began = time.perf_counter()
        future = self._loop.run_in_executor(self._pool, self.served.model.run, feeds)
        self._running = future
        future.add_done_callback(lambda f: self._scored(f, sizes, ids, feeds, began))

    def _validate(self, items: list[tuple[str, list]]) -> tuple[list, list[int], list[str]]:
        """Inputs of the requests offered without plain columns: one part per valid request."""
        served = self.served
        parts, sizes, ids = [], [], []
        for request_id, instances in items:
            try:
                columns = plain_columns(served.plan, instances, self.max_rows)
                if columns is None:
                    checked = served.model.check_records(instances, unknown=self.unknown)
                    if not checked.ok.all():
                        self.outcomes["rejected"] += 1
                        continue
                    columns = checked.feeds
            except Exception:  # a request the shadow cannot even validate: its problem, counted
                self.outcomes["error"] += 1
                continue
            parts.append(columns)
            sizes.append(len(instances))
            ids.append(request_id)
        return parts, sizes, ids

    def _scored(self, future: asyncio.Future, sizes: list, ids: list, feeds: dict, began: float) -> None:
        self._busy = False
        self._running = None
        served = self.served
        exc = future.exception() if not future.cancelled() else RuntimeError("cancelled")
        if exc is not None:
            if not self.failures or self.failures % 1000 == 0:  # the first, then one in a thousand
                log.warning("shadow model %s failed on %d request(s): %r", served.version, len(ids), exc)
            self.failures += 1
            self.outcomes["error"] += len(ids)
        else:
            seconds = time.perf_counter() - began
            self.seconds += seconds
            self.outcomes["scored"] += len(ids)
            if self._log is not None:  # latency_ms: the batch's scoring time
                endpoints, latencies = (PATH,) * len(ids), [seconds * 1000] * len(ids)
                self._log.batch(served, endpoints, ids, latencies, sizes, feeds, future.result())
            else:
                self.outcomes["unlogged"] += len(ids)
        if self.waiting and not self._scheduled:  # offered while this batch was scored
            self._scheduled = True
            self._loop.call_later(0 if self._closed else INTERVAL, self._flush)

    def metrics(self) -> list[str]:
        """Prometheus lines: shadow requests by outcome, requests waiting, scoring time."""
        v = self.served.version.replace('"', "")
        lines = [
            "# HELP mlctl_shadow_requests_total Requests offered to the shadow model, by outcome.",
            "# TYPE mlctl_shadow_requests_total counter",
        ]
        lines += [f'mlctl_shadow_requests_total{{version="{v}",outcome="{o}"}} {self.outcomes[o]}' for o in OUTCOMES]
        lines += [
            "# HELP mlctl_shadow_queue Requests waiting for the shadow model.",
            "# TYPE mlctl_shadow_queue gauge",
            f"mlctl_shadow_queue {self.waiting}",
            "# HELP mlctl_shadow_seconds_total Time the shadow model spent scoring.",
            "# TYPE mlctl_shadow_seconds_total counter",
            f"mlctl_shadow_seconds_total {self.seconds!r}",
        ]
        return lines
