"""Smoke-test a running prediction service: readiness, metadata, and one real prediction."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mlctl.core.errors import ExternalError, ModelError


@dataclass
class SmokeResult:
    """What the smoke test saw."""

    url: str
    ready_after_s: float
    model_version: str | None
    sha256: str | None
    instance: dict[str, Any] = field(default_factory=dict)
    prediction: Any = None
    latency_ms: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def smoke(url: str, *, timeout: float = 60.0, expect_sha256: str | None = None) -> SmokeResult:
    """Wait for /ready, read /metadata, send one example built from the schema to /predict."""
    import httpx

    from mlctl.onnxmodel.runtime import InputSpec
    from mlctl.serve.schemas import example_instance

    base = url.rstrip("/")
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=10.0) as client:
        last = "no answer"
        while True:
            try:
                r = client.get("/ready")
                if r.status_code == 200:
                    break
                last = f"/ready answered {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - started > timeout:
                raise ExternalError(f"service not ready after {timeout:.0f}s ({last})", where=base)
            time.sleep(0.5)
        ready_after = time.monotonic() - started
        meta = _json(client.get("/metadata"), "/metadata", base)
        if expect_sha256 and meta.get("sha256") != expect_sha256:
            raise ModelError(
                f"service runs model {str(meta.get('sha256'))[:12]}…, expected {expect_sha256[:12]}…", where=base
            )
        instance = example_instance([InputSpec.from_dict(d) for d in meta["inputs"]])
        t0 = time.perf_counter()
        body = _json(client.post("/predict", json={"instances": [instance]}), "/predict", base)
        latency = (time.perf_counter() - t0) * 1000
    predictions = body.get("predictions") or []
    if len(predictions) != 1:
        raise ExternalError(f"/predict returned {len(predictions)} predictions for 1 instance", where=base)
    value = predictions[0]
    if isinstance(value, float) and not math.isfinite(value):
        raise ModelError(f"/predict returned a non-finite prediction {value}", where=base)
    return SmokeResult(base, ready_after, meta.get("version"), meta.get("sha256"), instance, value, latency)


def _json(response: Any, path: str, base: str) -> dict:
    if response.status_code != 200:
        raise ExternalError(f"{path} answered {response.status_code}: {response.text[:300]}", where=base)
    return response.json()
