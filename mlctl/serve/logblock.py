"""Request-log rows buffered as columns, and their conversion to one Arrow table.

A block keeps one flat list of plain values per column and extends them with
each request's values: no per-request container or array outlives the request.
Per-request objects (a record tuple, a dict of feeds) kept for a second pass
through the garbage collector's young generations by the thousand, and freeing
a second's worth of small arrays at once held the GIL for ~20 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK = 512  # requests per block: converted (and freed) in one event-loop callback of ~1 ms


class Block:
    """Up to ``BLOCK`` logged requests of one served model, as flat columns (one entry per row)."""

    __slots__ = (
        "all_probabilities",
        "counts",
        "endpoints",
        "ids",
        "inputs",
        "labels",
        "latencies",
        "probabilities",
        "requests",
        "rows",
        "sent",
        "served",
        "stamps",
    )

    def __init__(self, served: Any):
        self.served = served  # mlctl.serve.state.Served: version, names, kinds, classes
        self.clear()

    def clear(self) -> None:
        """Empty the columns."""
        served = self.served
        self.ids: list[str] = []  # per request
        self.endpoints: list[str] = []
        self.stamps: list[float] = []  # epoch seconds
        self.latencies: list[float] = []  # ms
        self.counts: list[int] = []  # rows per request
        self.inputs: dict[str, list] = {n: [] for n in served.names}  # per row, as scored
        # what was sent where the model saw the missing category "": an unknown one is logged as sent
        self.sent: dict[str, dict[int, Any]] = {n: {} for n in served.categorical}
        self.labels: list = []
        self.probabilities: list[float] = []  # class probabilities, row after row
        self.all_probabilities = True  # False once a request came without them
        self.requests = 0
        self.rows = 0

    def __len__(self) -> int:
        return self.requests

    def add(
        self,
        endpoint: str,
        request_id: str,
        timestamp: float,
        latency_ms: float,
        inputs: dict[str, Any],
        raw: dict[str, list] | None,
        labels: Any,
        probabilities: Any,
    ) -> None:
        """One request: ``inputs`` per feature as value lists or (n, 1) arrays; arrays become lists."""
        n = len(labels)
        self.ids.append(request_id)
        self.endpoints.append(endpoint)
        self.stamps.append(timestamp)
        self.latencies.append(latency_ms)
        self.counts.append(n)
        for name, col in self.inputs.items():
            values = inputs[name]
            col.extend(values if type(values) is list else values.reshape(-1).tolist())
        if raw is not None:  # through the validator: note what stood behind each missing category
            for name, sent in self.sent.items():
                fed = self.inputs[name]
                for i in range(n):
                    if fed[self.rows + i] == "":
                        sent[self.rows + i] = raw[name][i]
        self.requests += 1
        self.rows += n
        self.labels.extend(labels if type(labels) is list else labels.tolist())
        if probabilities is None:
            self.all_probabilities = False
        elif type(probabilities) is list:
            for row in probabilities:
                self.probabilities.extend(row)
        else:
            self.probabilities.extend(probabilities.reshape(-1).tolist())

    def add_batch(
        self,
        endpoints: tuple,
        ids: tuple,
        timestamp: float,
        latencies: list[float],
        sizes: list[int],
        feeds: dict[str, Any],
        labels: Any,
        probabilities: Any,
    ) -> None:
        """Requests scored in one call from plainly valid inputs: the call's feeds and outputs, as arrays."""
        k = len(ids)
        self.ids.extend(ids)
        self.endpoints.extend(endpoints)
        self.stamps.extend([timestamp] * k)
        self.latencies.extend(latencies)
        self.counts.extend(sizes)
        for name, col in self.inputs.items():
            col.extend(feeds[name].reshape(-1).tolist())
        self.requests += k
        self.rows += len(labels)
        self.labels.extend(labels.tolist())
        if probabilities is None:
            self.all_probabilities = False
        else:
            self.probabilities.extend(probabilities.reshape(-1).tolist())

    def table(self) -> Any:
        """The block as one Arrow table (the request-log schema, see mlctl.serve.requestlog)."""
        import pyarrow as pa

        served = self.served
        counts = np.array(self.counts, dtype=np.int64)
        total = int(counts.sum())
        single = total == len(counts)  # the common case: one row per request, nothing to repeat

        stamps = np.round(np.array(self.stamps, dtype=np.float64) * 1e6).astype("int64")
        cols: dict[str, Any] = {
            "request_id": pa.array(self.ids, pa.string()),
            "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "model_version": pa.repeat(pa.scalar(served.version, pa.string()), total),
            "role": pa.repeat(pa.scalar(served.role, pa.string()), total),
            "endpoint": pa.array(self.endpoints, pa.string()),
            "latency_ms": pa.array(np.array(self.latencies, dtype=np.float64)),
        }
        if not single:  # per request -> per row
            rows = pa.array(np.repeat(np.arange(len(counts)), counts))
            cols = {k: v if k in ("model_version", "role") else v.take(rows) for k, v in cols.items()}
        for name in served.names:
            values = self.inputs[name]
            if served.kinds[name] == "numeric":  # as the model saw them: float32, widened; NaN is null
                cols[name] = pa.array(np.array(values, dtype=np.float32).astype(np.float64), from_pandas=True)
            else:
                cols[name] = pa.array(_categorical(values, self.sent[name]), pa.string())
        probabilities = None
        if served.class_keys is not None and self.all_probabilities:
            # built flat: a list of per-row lists converts to a 2-D array six times slower
            probabilities = np.array(self.probabilities, dtype=np.float64).reshape(total, len(served.class_keys))
        cols.update(answer_columns(served, self.labels, probabilities))
        return pa.table(cols)


def answer_columns(served: Any, labels: Any, probabilities: np.ndarray | None) -> dict[str, Any]:
    """``prediction`` and one ``proba_<class>`` per class (when there are probabilities), as Arrow arrays.

    ``labels``: a list or an array of one model's labels.
    """
    import pyarrow as pa

    cols: dict[str, Any] = {}
    if served.task == "regression":
        cols["prediction"] = pa.array(np.array(labels, dtype=np.float64))
    else:  # one model's labels are all str or all int: the fast inference keeps them so
        try:
            prediction = pa.array(labels)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            prediction = None
        if prediction is None or prediction.type not in (pa.string(), pa.int64()):
            prediction = pa.array([str(v) for v in labels], pa.string())
        cols["prediction"] = prediction
    if served.class_keys is not None and probabilities is not None:
        for j, key in enumerate(served.class_keys):
            cols[f"proba_{key}"] = pa.array(np.asarray(probabilities[:, j], dtype=np.float64))
    return cols


def _categorical(values: list, sent: dict[int, Any]) -> list:
    """A categorical column as logged: missing is null, an unknown category (fed as missing) as sent."""
    if "" not in values:  # nothing missing or unknown: the usual block
        return values
    logged = list(values)
    for i, v in enumerate(values):
        if v == "":
            r = sent.get(i)
            logged[i] = r if type(r) is str and r else None
    return logged
