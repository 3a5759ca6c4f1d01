"""The shadow: a second model scores /predict requests off the response path and logs its answers.

After the champion's response is sent, the request's instances are offered to the shadow (one
append to a queue, a share of requests when serve.shadow_share < 1). A thread of its own takes
what is queued, validates it against the shadow's schema (plain rows quickly, the rest with the
general validator), scores it in one onnxruntime call (which releases the GIL), and hands the
answers back to the event loop for the request log, under the same request id with role
``shadow``. The client never waits for it and never sees it: a shadow that raises or rejects a
request is counted (mlctl_shadow_requests_total{outcome=...}); a slow one fills its queue, and
requests beyond serve.shadow_queue are dropped and counted (outcome="dropped").
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from collections import Counter
from typing import Any

from mlctl.serve.plain import plain_columns, to_feeds
from mlctl.serve.state import Served

log = logging.getLogger("mlctl.serve")
BATCH_ROWS = 256  # rows scored per shadow call at most
STOP = object()


class Shadow:
    """The shadow model's queue, thread and counts."""

    def __init__(self, served: Served, share: float, max_queue: int, unknown: str, max_rows: int):
        self.served = served
        self.share = share
        self.max_queue = max_queue
        self.unknown = unknown
        self.max_rows = max_rows
        self.outcomes: Counter = Counter()  # scored | rejected | error | dropped
        self.seconds = 0.0  # time spent scoring
        self.failures = 0  # failed shadow calls (warned about sparingly)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._log: Any = None
        self._thread = threading.Thread(target=self._run, name="mlctl-shadow", daemon=True)

    def start(self, loop: asyncio.AbstractEventLoop, request_log: Any) -> None:
        self._loop, self._log = loop, request_log
        self._thread.start()

    def offer(self, request_id: str, instances: list) -> None:
        """Called on the event loop after the response was sent: queue the request (or count it dropped)."""
        if self.share < 1.0 and random.random() >= self.share:
            return
        if self._queue.qsize() >= self.max_queue:
            self.outcomes["dropped"] += 1
            return
        self._queue.put((request_id, instances))

    def close(self, timeout: float = 10.0) -> None:
        """Score what is queued (up to ``timeout``), then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(STOP)
            self._thread.join(timeout)

    # -- the shadow's thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            items, stop = [], item is STOP
            rows = 0
            while not stop:
                items.append(item)
                rows += len(item[1])
                if rows >= BATCH_ROWS:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stop = item is STOP
            if items:
                self._score(items)
            if stop:
                return

    def _score(self, items: list[tuple[str, list]]) -> None:
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
        if not parts:
            return
        began = time.perf_counter()
        try:
            feeds = to_feeds(served.plan, parts)
            pred = served.model.run(feeds)
        except Exception as exc:
            if not self.outcomes["error"] or self.failures % 1000 == 0:  # the first, then one in a thousand
                log.warning("shadow model %s failed on %d request(s): %r", served.version, len(parts), exc)
            self.failures += 1
            self.outcomes["error"] += len(parts)
            return
        self.seconds += time.perf_counter() - began
        self.outcomes["scored"] += len(parts)
        if self._log is None or self._loop is None:
            return
        notes = [("/predict", request_id, began, None) for request_id in ids]
        try:
            self._loop.call_soon_threadsafe(self._log.scored, served, notes, sizes, parts, feeds, pred)
        except RuntimeError:  # the loop closed (shutdown): these answers are not logged
            self.outcomes["unlogged"] += len(parts)

    def metrics(self) -> list[str]:
        """Prometheus lines: shadow requests by outcome, queue length, scoring time."""
        v = self.served.version.replace('"', "")
        lines = [
            "# HELP mlctl_shadow_requests_total Requests offered to the shadow model, by outcome.",
            "# TYPE mlctl_shadow_requests_total counter",
        ]
        for outcome in ("scored", "rejected", "error", "dropped", "unlogged"):
            lines.append(f'mlctl_shadow_requests_total{{version="{v}",outcome="{outcome}"}} {self.outcomes[outcome]}')
        lines += [
            "# HELP mlctl_shadow_queue Requests waiting for the shadow model.",
            "# TYPE mlctl_shadow_queue gauge",
            f"mlctl_shadow_queue {self._queue.qsize()}",
            "# HELP mlctl_shadow_seconds_total Time the shadow model spent scoring.",
            "# TYPE mlctl_shadow_seconds_total counter",
            f"mlctl_shadow_seconds_total {self.seconds!r}",
        ]
        return lines
