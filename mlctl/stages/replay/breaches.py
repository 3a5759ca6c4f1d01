"""The limits of `gate.replay` judged on a replay report: the same verdict in `mlctl replay` and `mlctl gate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlctl.params.gate import ReplayLimits


def judge(report: dict[str, Any], limits: ReplayLimits) -> list[dict[str, Any]]:
    """One check per configured limit: metric, value, limit, passed, skipped, detail."""
    checks = []
    agreement = report.get("agreement") or {}
    if limits.max_disagreement is not None:
        value = agreement.get("disagreement")
        compared = agreement.get("compared", 0)
        if value is None:
            checks.append(_check("disagreement", None, limits.max_disagreement, True, "no row compared", True))
        else:
            detail = (
                f"{agreement.get('disagreements')} of {compared} replayed rows answered differently: "
                f"{value:.4%} <= {limits.max_disagreement:.4%}"
            )
            checks.append(
                _check("disagreement", value, limits.max_disagreement, value <= limits.max_disagreement, detail)
            )
    if limits.max_new_rejects is not None:
        value = (report.get("rejects") or {}).get("new", 0)
        detail = f"{value} row(s) the champion answered are rejected by the candidate (limit {limits.max_new_rejects})"
        checks.append(_check("new_rejects", value, limits.max_new_rejects, value <= limits.max_new_rejects, detail))
    if limits.max_latency_ratio is not None:
        latency = report.get("latency") or {}
        ratio = latency.get("ratio")
        if ratio is None:
            why = latency.get("ratio_reason") or "no champion model timed (replay.champion)"
            checks.append(_check("latency_ratio", None, limits.max_latency_ratio, True, why, True))
        else:
            detail = (
                f"single-row median {latency['candidate']['median_ms']:.4g} ms vs champion "
                f"{latency['champion']['median_ms']:.4g} ms: ratio {ratio:.3g} <= {limits.max_latency_ratio:g}"
            )
            checks.append(
                _check("latency_ratio", ratio, limits.max_latency_ratio, ratio <= limits.max_latency_ratio, detail)
            )
    return checks


def _check(metric: str, value: Any, limit: float, passed: bool, detail: str, skipped: bool = False) -> dict[str, Any]:
    return {"metric": metric, "value": value, "limit": limit, "passed": passed, "skipped": skipped, "detail": detail}
