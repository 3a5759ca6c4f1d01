"""What every route shares: config, model state, metrics and the request log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mlctl.serve.batching import Batcher
from mlctl.serve.config import ServeConfig
from mlctl.serve.http import elapsed_ms, request_id
from mlctl.serve.logging import RequestLog
from mlctl.serve.metrics import Metrics
from mlctl.serve.state import ModelState, Served


@dataclass
class Context:
    config: ServeConfig
    state: ModelState
    metrics: Metrics
    log: RequestLog | None
    batcher: Batcher

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
        self.metrics.observe_predictions(endpoint, labels, served.task == "regression")
        if self.log is not None:
            raw = None if columns is None else {n: columns[n] for n in served.categorical}
            self.log.submit(
                served, endpoint, request_id(scope), time.time(), elapsed_ms(scope), inputs, raw, labels, probabilities
            )


def context(request: Any) -> Context:
    return request.app.state.ctx
