"""What every route shares: config, model state, metrics and the request log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mlctl.runtime import Checked, Prediction
from mlctl.serve.config import ServeConfig
from mlctl.serve.http import elapsed_ms, request_id
from mlctl.serve.logging import Entry, RequestLog
from mlctl.serve.metrics import Metrics
from mlctl.serve.state import ModelState, Served


@dataclass
class Context:
    config: ServeConfig
    state: ModelState
    metrics: Metrics
    log: RequestLog | None

    def record(
        self,
        scope: dict,
        endpoint: str,
        served: Served,
        checked: Checked,
        columns: dict,
        pred: Prediction,
        labels: list,
    ) -> None:
        """Count the predictions and queue them for the request log (no disk I/O here)."""
        self.metrics.observe_predictions(endpoint, labels, served.task == "regression")
        if self.log is not None:
            raw = {n: columns[n] for n in served.names if served.kinds[n] == "categorical"}
            self.log.submit(
                Entry(
                    served,
                    endpoint,
                    request_id(scope),
                    time.time(),
                    elapsed_ms(scope),
                    checked.feeds,
                    raw,
                    pred.labels,
                    pred.probabilities,
                )
            )


def context(request: Any) -> Context:
    return request.app.state.ctx
