"""Prometheus metrics in the text exposition format, kept in-process (one set per worker)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlctl.serve.state import ModelState

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_POS = (0.01, 0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 1e4, 1e5, 1e6)
VALUE_BUCKETS = tuple(sorted({-v for v in _POS} | {0.0} | set(_POS)))
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    """Cumulative-bucket histogram (Prometheus semantics: le buckets, _sum, _count)."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {running}')
        braces = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{braces} {self.sum!r}")
        out.append(f"{name}_count{braces} {self.count}")
        return out


def _esc(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Request counts and latencies by endpoint, prediction counts by class, model info."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, Histogram] = {}
        self.rows: dict[str, int] = defaultdict(int)
        self.classes: dict[str, int] = defaultdict(int)
        self.values = Histogram(VALUE_BUCKETS)
        self.log_dropped = 0
        self.by_version: dict[tuple[str, str], int] = defaultdict(int)  # (model version, role) -> rows answered

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests[(endpoint, method, status)] += 1
        hist = self.latency.get(endpoint)
        if hist is None:
            hist = self.latency[endpoint] = Histogram(LATENCY_BUCKETS)
        hist.observe(seconds)

    def observe_predictions(self, endpoint: str, labels: list, regression: bool) -> None:
        self.rows[endpoint] += len(labels)
        if regression:
            for v in labels:
                self.values.observe(v)
        else:
            for v in labels:
                self.classes[str(v)] += 1

    def render(self, state: ModelState, log_stats: dict | None = None, extra: list[str] | None = None) -> str:
        served = state.served
        lines = [
            "# HELP mlctl_http_requests_total HTTP requests by endpoint, method and status.",
            "# TYPE mlctl_http_requests_total counter",
        ]
        for (endpoint, method, status), n in sorted(self.requests.items()):
            lines.append(
                f'mlctl_http_requests_total{{endpoint="{_esc(endpoint)}",method="{method}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP mlctl_http_request_duration_seconds Request latency by endpoint.",
            "# TYPE mlctl_http_request_duration_seconds histogram",
        ]
        for endpoint, hist in sorted(self.latency.items()):
            lines += hist.lines("mlctl_http_request_duration_seconds", f'endpoint="{_esc(endpoint)}"')
        lines += [
            "# HELP mlctl_prediction_rows_total Rows scored by endpoint.",
            "# TYPE mlctl_prediction_rows_total counter",
        ]
        lines += [f'mlctl_prediction_rows_total{{endpoint="{_esc(e)}"}} {n}' for e, n in sorted(self.rows.items())]
        if served.task == "classification":
            lines += [
                "# HELP mlctl_predictions_total Predicted labels by class.",
                "# TYPE mlctl_predictions_total counter",
            ]
            for cls in served.class_keys or []:
                lines.append(f'mlctl_predictions_total{{class="{_esc(cls)}"}} {self.classes.get(cls, 0)}')
        else:
            lines += ["# HELP mlctl_prediction_value Predicted values.", "# TYPE mlctl_prediction_value histogram"]
            lines += self.values.lines("mlctl_prediction_value", "")
        lines += [
            "# HELP mlctl_model_info The served model (value is always 1).",
            "# TYPE mlctl_model_info gauge",
            f'mlctl_model_info{{name="{_esc(served.name)}",version="{_esc(served.version)}",'
            f'sha256="{served.model.sha256}",task="{served.task}"}} 1',
            "# HELP mlctl_model_ready 1 when the model is loaded, warmed up and not shutting down.",
            "# TYPE mlctl_model_ready gauge",
            f"mlctl_model_ready {int(state.ready)}",
            "# HELP mlctl_model_reloads_total Hot reloads by outcome.",
            "# TYPE mlctl_model_reloads_total counter",
        ]
        lines += [f'mlctl_model_reloads_total{{outcome="{k}"}} {v}' for k, v in state.reloads.items()]
        lines += [
            "# HELP mlctl_model_rows_total Rows answered by model version and role (champion, canary).",
            "# TYPE mlctl_model_rows_total counter",
        ]
        lines += [
            f'mlctl_model_rows_total{{version="{_esc(v)}",role="{r}"}} {n}'
            for (v, r), n in sorted(self.by_version.items())
        ]
        if state.canary is not None:
            lines += [
                "# HELP mlctl_canary_share Share of clients the canary answers.",
                "# TYPE mlctl_canary_share gauge",
                f'mlctl_canary_share{{version="{_esc(state.canary.version)}"}} {state.canary_share!r}',
            ]
        lines += extra or []
        if log_stats is not None:
            lines += [
                "# HELP mlctl_request_log_rows_total Prediction rows written to the request log.",
                "# TYPE mlctl_request_log_rows_total counter",
                f"mlctl_request_log_rows_total {log_stats['written']}",
                "# HELP mlctl_request_log_dropped_total Requests not logged because the queue was full.",
                "# TYPE mlctl_request_log_dropped_total counter",
                f"mlctl_request_log_dropped_total {log_stats['dropped']}",
            ]
        return "\n".join(lines) + "\n"
