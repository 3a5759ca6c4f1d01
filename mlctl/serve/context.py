"""What every route shares: config, model state, metrics and the request log."""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from typing import Any

from mlctl.serve.batching import Batcher
from mlctl.serve.config import ServeConfig
from mlctl.serve.prometheus import Metrics
from mlctl.serve.requestlog import Note, RequestLog
from mlctl.serve.state import ModelState, Served


@dataclass
class Context:
    config: ServeConfig
    state: ModelState
    metrics: Metrics
    log: RequestLog | None
    batcher: Batcher
    shadow: Any = None  # mlctl.serve.shadow.Shadow when `--shadow` is given

    def count(self, endpoint: str, served: Served, labels: list) -> None:
        """Count the predictions (for requests that the batcher logs itself)."""
        self.metrics.observe_predictions(endpoint, labels, served.task == "regression")
        self.metrics.by_version[(served.version, served.role)] += len(labels)

    def pick(self, scope: dict) -> Served:
        """The model that answers this request: the canary for its share of clients, else the champion."""
        state = self.state
        canary = state.canary
        if canary is None:
            return state.served
        share = state.canary_share
        if share <= 0.0:
            return state.served
        key = None
        wanted = self.config.canary_header.encode()
        for name, value in scope["headers"]:
            if name == wanted:
                key = value
                break
        return canary if client_unit(key) < share else state.served

    def note(self, scope: dict, endpoint: str, served: Served, columns: dict | None) -> Note | None:
        """What the batcher needs to log a request once it is scored; None when nothing is logged."""
        if self.log is None:
            return None
        request_id, start = _id_and_start(scope)
        return (endpoint, request_id, start or time.perf_counter(), _sent_categories(served, columns))

    def record(
        self,
        scope: dict,
        endpoint: str,
        served: Served,
        inputs: dict,
        columns: dict | None,
        labels: list,
        probabilities: Any,
    ) -> None:
        """Count the predictions and queue them for the request log (no disk I/O here).

        ``inputs``: per feature, the values or (n, 1) feed scored; ``columns``: the raw
        values as sent, or None when they are the inputs; ``probabilities``: array, rows or None.
        """
        self.count(endpoint, served, labels)
        log = self.log
        if log is not None:
            raw = _sent_categories(served, columns)
            request_id, start = _id_and_start(scope)
            latency_ms = (time.perf_counter() - start) * 1000 if start else 0.0
            log.submit(served, endpoint, request_id, time.time(), latency_ms, inputs, raw, labels, probabilities)


def client_unit(key: bytes | None) -> float:
    """A client's fixed place in [0, 1): the hash of its header value (random when it sent none).

    A client whose place is under the canary share gets the canary; raising the share only moves
    clients from the champion to the canary, never back.
    """
    if not key:
        return random.random()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2.0**64


def _id_and_start(scope: dict) -> tuple[str, float | None]:
    """The request id and start time (time.perf_counter()) that RequestIds.assign put in the scope."""
    state = scope.get("state") or {}
    return state.get("request_id", ""), state.get("start")


def _sent_categories(served: Served, columns: dict | None) -> dict | None:
    """The categorical values as sent (the log records an unknown one as sent), or None."""
    return None if columns is None else {n: columns[n] for n in served.categorical}


def context(request: Any) -> Context:
    return request.app.state.ctx
