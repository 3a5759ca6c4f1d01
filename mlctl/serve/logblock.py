"""Request-log rows buffered as columns, and their conversion to one Arrow table.

A block keeps one list per column and appends each request's values and arrays
to them: no per-request container outlives the request. Per-request objects
(a record tuple, a dict of feeds) kept for a second would pass through the
garbage collector's young generations by the thousand and make each of its
collections cost milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK = 128  # requests per block: converted (and freed) in one event-loop callback, ~1-2 ms


class Block:
    """Up to ``BLOCK`` logged requests of one served model, as columns."""

    __slots__ = (
        "counts",
        "endpoints",
        "feeds",
        "ids",
        "labels",
        "latencies",
        "probabilities",
        "raw",
        "served",
        "stamps",
    )

    def __init__(self, served: Any):
        self.served = served  # mlctl.serve.state.Served: version, names, kinds, classes
        self.clear()

    def clear(self) -> None:
        """Empty the columns (and free the arrays they held)."""
        served = self.served
        self.ids: list[str] = []
        self.endpoints: list[str] = []
        self.stamps: list[float] = []  # epoch seconds
        self.latencies: list[float] = []  # ms
        self.counts: list[int] = []  # rows per request
        self.feeds: dict[str, list[np.ndarray]] = {n: [] for n in served.names}
        # raw categorical values, to log an unknown category as sent (it is fed as missing)
        self.raw: dict[str, list[tuple | None]] = {n: [] for n in served.names if served.kinds[n] == "categorical"}
        self.labels: list[np.ndarray] = []
        self.probabilities: list[np.ndarray | None] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(
        self,
        endpoint: str,
        request_id: str,
        timestamp: float,
        latency_ms: float,
        feeds: dict[str, np.ndarray],
        raw: dict[str, list] | None,
        labels: np.ndarray,
        probabilities: np.ndarray | None,
    ) -> None:
        self.ids.append(request_id)
        self.endpoints.append(endpoint)
        self.stamps.append(timestamp)
        self.latencies.append(latency_ms)
        self.counts.append(len(labels))
        for name, col in self.feeds.items():
            col.append(feeds[name])
        for name, col in self.raw.items():
            col.append(tuple(raw[name]) if raw else None)  # a tuple of strings leaves the GC's view
        self.labels.append(labels)
        self.probabilities.append(probabilities)

    def table(self) -> Any:
        """The block as one Arrow table (the request-log schema, see mlctl.serve.logging)."""
        import pyarrow as pa

        served = self.served
        counts = np.array(self.counts, dtype=np.int64)
        total = int(counts.sum())
        single = total == len(counts)  # the common case: one row per request, nothing to repeat

        def per_row(values: Any) -> Any:
            return values if single else np.repeat(np.asarray(values, dtype=object), counts)

        stamps = np.round(np.array(self.stamps, dtype=np.float64) * 1e6).astype("int64")
        latencies = np.array(self.latencies, dtype=np.float64)
        cols: dict[str, Any] = {
            "request_id": pa.array(per_row(self.ids), pa.string()),
            "timestamp": pa.array(stamps if single else np.repeat(stamps, counts), pa.timestamp("us", tz="UTC")),
            "model_version": pa.array(np.full(total, served.version, dtype=object), pa.string()),
            "endpoint": pa.array(per_row(self.endpoints), pa.string()),
            "latency_ms": pa.array(latencies if single else np.repeat(latencies, counts)),
        }
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for name in served.names:
            values = np.concatenate(self.feeds[name]).reshape(-1)  # feeds are (n, 1)
            if served.kinds[name] == "numeric":
                cols[name] = pa.array(values.astype("float64"), pa.float64(), from_pandas=True)
            else:
                cols[name] = pa.array(_categorical(values, self.raw[name], starts), pa.string())
        labels = np.concatenate(self.labels).reshape(-1)
        if served.task == "regression":
            cols["prediction"] = pa.array(labels.astype("float64"))
        elif labels.dtype.kind in "iu":
            cols["prediction"] = pa.array(labels.astype("int64"))
        else:
            cols["prediction"] = pa.array(labels.astype(str), pa.string())
        if served.class_keys is not None and all(p is not None for p in self.probabilities):
            probs = np.concatenate(self.probabilities).astype("float64")
            for j, key in enumerate(served.class_keys):
                cols[f"proba_{key}"] = pa.array(probs[:, j])
        return pa.table(cols)


def _categorical(values: np.ndarray, raw: list[tuple | None], starts: np.ndarray) -> np.ndarray:
    """A categorical column as logged: missing is null, an unknown category (fed as missing) as sent."""
    logged = values.astype(object)
    blank = np.flatnonzero(logged == "")  # the missing category; usually few rows, looked at one by one
    if len(blank):
        which = np.searchsorted(starts, blank, side="right") - 1
        for i, r in zip(blank.tolist(), which.tolist(), strict=True):
            sent = raw[r][i - int(starts[r])] if raw[r] is not None else None
            logged[i] = sent if isinstance(sent, str) and sent else None
    return logged
