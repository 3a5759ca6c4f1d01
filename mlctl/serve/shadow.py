"""The shadow: a second model scores the champion's logged /predict rows off the request path.

The request path does nothing for the shadow. The request log already turns every answered
request into Arrow columns (the inputs as the champion saw them); its writer thread hands each
table it converted to the shadow (``submit``), and the shadow's own thread scores it: the
columns go through the shadow's general validator (vectorised, its own schema), onnxruntime runs
once per table, and the answers come back to the writer as a table of their own, written under the
same request ids with role ``shadow`` (the input columns are the champion's, shared, not copied).
Offering each request to the shadow from the request path, even as a few list appends, cost
~10% of the throughput of a CPU-bound service: all per-request Python work is gone here.

The shadow lags the response by up to ``serve.log_flush_seconds`` (the writer's cycle); it needs
the request log (its answers go nowhere else). The client never waits for it and never sees it: a
shadow that raises or rejects a request is counted (mlctl_shadow_requests_total{outcome=...}); a
slow one holds its thread while tables pile up, and requests beyond serve.shadow_queue are dropped
and counted (outcome="dropped"). A request is scored when all its rows pass the shadow's checks,
else it is rejected; a feature the shadow needs and the champion does not log rejects every request.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import numpy as np

from mlctl.serve.logblock import answer_columns
from mlctl.serve.plain import FLOAT32_SAFE
from mlctl.serve.state import Served

log = logging.getLogger("mlctl.serve")
PATH = "/predict"  # the endpoint a shadow scores
OUTCOMES = ("scored", "rejected", "error", "dropped")


class Shadow:
    """The shadow model, its scoring thread, the answers waiting for the writer, and its counts."""

    def __init__(self, served: Served, share: float, max_queue: int, unknown: str, seed: int | None = None):
        self.served = served
        self.share = share
        self.max_queue = max_queue
        self.unknown = unknown
        self.outcomes: Counter = Counter()
        self.seconds = 0.0  # time spent scoring
        self.failures = 0  # failed shadow calls (warned about sparingly)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._waiting = 0  # requests handed over, not yet scored
        self._answers: deque = deque()  # (served, table) for the writer
        self._closed = False
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mlctl-shadow")
        # runs a function on the server's event loop and returns its result (RequestLog sets it)
        self.on_loop: Callable[[Callable[[], Any]], Any] = lambda fn: fn()

    @property
    def waiting(self) -> int:
        return self._waiting

    def submit(self, table: Any, requests: int) -> None:
        """From the request-log writer: a table of answered requests, scored later on the shadow's thread."""
        with self._lock:
            if self._closed:
                return
            if self._waiting + requests > self.max_queue:
                self.outcomes["dropped"] += requests
                return
            self._waiting += requests
        self._pool.submit(self._guarded, table, requests)

    def answers(self) -> list[tuple[Served, Any]]:
        """The shadow's answer tables scored since the last call (for the writer thread)."""
        out = []
        while self._answers:
            out.append(self._answers.popleft())
        return out

    def finish(self) -> None:
        """Score everything handed over, then stop the thread (the writer's last step)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True)

    # -- on the shadow's thread ---------------------------------------------------------------

    def _guarded(self, table: Any, requests: int) -> None:
        try:
            self._score(table, requests)
        except Exception:  # never let the shadow take the log down: count, warn once in a while
            self._failed(requests, "could not read the logged rows")
        finally:
            with self._lock:
                self._waiting -= requests

    def _score(self, table: Any, requests: int) -> None:
        # the Python and numpy steps run on the event loop, between requests (``on_loop``): on this
        # thread they would take the GIL whenever a request released it and keep it for a whole
        # switch interval (5 ms), a p99 stall; only onnxruntime, which releases the GIL, runs here
        prepared = self.on_loop(lambda: self._prepare(table, requests))
        if prepared is None:
            return
        table, feeds, scored = prepared
        began = time.perf_counter()
        try:
            pred = self.served.model.run(feeds)
        except Exception as exc:  # the model's problem (a real onnxruntime error), counted
            self._failed(scored, repr(exc))
            return
        seconds = time.perf_counter() - began
        self.seconds += seconds
        self.outcomes["scored"] += scored
        self._answers.append((self.served, self.on_loop(lambda: self._table(table, seconds, pred))))

    def _prepare(self, table: Any, requests: int | None) -> tuple[Any, dict, int] | None:
        """The rows to score, their feeds and their requests' count; None when nothing is left to score.

        ``requests``: the table's requests, as counted by the log.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        endpoints = pc.equal(table["endpoint"], PATH)
        if not pc.all(endpoints).as_py():  # MLflow's and v2's rows are not the shadow's
            table = table.filter(endpoints)
            requests = None
        if self.share < 1.0 and table.num_rows:
            ids = pc.unique(table["request_id"])
            picked = ids.filter(pa.array(self._rng.random(len(ids)) < self.share))
            table = table.filter(pc.is_in(table["request_id"], value_set=picked))
            requests = None
        if not table.num_rows:
            return None
        ids = table["request_id"]
        model = self.served.model
        logged = set(table.column_names)
        missing = [name for name in model.input_names if name not in logged]
        if missing:  # inputs the champion does not take, so its log does not have them
            self.outcomes["rejected"] += pc.count_distinct(ids).as_py()
            return None
        plain = self._plain(table)
        if plain is not None:  # the usual table: every row plainly valid, no validator
            return table, plain, requests if requests is not None else pc.count_distinct(ids).as_py()
        columns = {name: _values(table[name], kind) for name, kind in self.served.kinds.items()}
        checked = model.check_columns(columns, table.num_rows, unknown=self.unknown)
        keep = checked.ok
        feeds = checked.feeds
        if not keep.all():  # a request is scored whole or not at all
            bad = pc.unique(ids.filter(pa.array(~keep)))
            self.outcomes["rejected"] += len(bad)
            keep = ~pc.is_in(ids, value_set=bad).to_numpy(zero_copy_only=False)
            if not keep.any():
                return None
            table = table.filter(pa.array(keep))
            feeds = {k: v[keep] for k, v in feeds.items()}
        return table, feeds, pc.count_distinct(table["request_id"]).as_py()

    def _plain(self, table: Any) -> dict[str, np.ndarray] | None:
        """Feeds for a table whose rows are all plainly valid shadow inputs (as mlctl.serve.plain), else None.

        No nulls, numbers inside float32 range, known non-empty categories: the feeds are then
        those the validator would build.
        """
        import pyarrow as pa

        feeds: dict[str, np.ndarray] = {}
        for name, numeric, known in self.served.plan.specs:
            col = table[name]
            if col.null_count:
                return None
            if numeric:
                if not pa.types.is_floating(col.type):
                    return None
                values = col.to_numpy()
                # NaN and infinities fail the bound: numpy on a few hundred values beats Arrow's call overhead
                if not np.abs(values).max(initial=0.0) < FLOAT32_SAFE:
                    return None
                feeds[name] = values.astype(np.float32).reshape(-1, 1)
            else:
                if not pa.types.is_string(col.type):
                    return None
                values = col.to_numpy(zero_copy_only=False)
                seen = set(values.tolist())
                if "" in seen or (known is not None and not seen <= known):
                    return None
                feeds[name] = values.reshape(-1, 1)
        return feeds

    def _table(self, table: Any, seconds: float, pred: Any) -> Any:
        """The shadow's rows in the request-log schema: the champion's ids and inputs, its own answers."""
        import pyarrow as pa

        served, n = self.served, table.num_rows
        now = round(time.time() * 1e6)
        cols = {
            "request_id": table["request_id"],
            "timestamp": pa.repeat(pa.scalar(now, pa.timestamp("us", tz="UTC")), n),
            "model_version": pa.repeat(pa.scalar(served.version, pa.string()), n),
            "role": pa.repeat(pa.scalar(served.role, pa.string()), n),
            "endpoint": table["endpoint"],
            "latency_ms": pa.repeat(pa.scalar(seconds * 1000, pa.float64()), n),  # the table's scoring time
            **{name: table[name] for name in served.names},
            **answer_columns(served, pred.labels, pred.probabilities),
        }
        return pa.table(cols)

    def _failed(self, requests: int, why: str) -> None:
        if not self.failures or self.failures % 1000 == 0:  # the first, then one in a thousand
            log.warning("shadow model %s failed on %d request(s): %s", self.served.version, requests, why)
        self.failures += 1
        self.outcomes["error"] += requests

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
            f"mlctl_shadow_queue {self._waiting}",
            "# HELP mlctl_shadow_seconds_total Time the shadow model spent scoring.",
            "# TYPE mlctl_shadow_seconds_total counter",
            f"mlctl_shadow_seconds_total {self.seconds!r}",
        ]
        return lines


def _values(column: Any, kind: str) -> np.ndarray:
    """A logged column as the validator takes it: floats with NaN for null, or strings with None."""
    if kind == "numeric":
        return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return column.to_numpy(zero_copy_only=False)
