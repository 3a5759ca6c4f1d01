"""What each monitoring finding makes `mlctl monitor` do: retrain (exit 7), alert (exit 9) or nothing.

``monitor.policy`` maps each check to an action. The defaults follow the
continuous-training practice: drift, decay, staleness and value skew (values
outside the training ranges) are fixed by retraining on recent data; schema
skew and bad inputs (data quality), training/serving skew and numerical health
are bugs a person must look at, which retraining would hide or learn. When both
kinds are found, retraining wins the exit code (7) and the alerts ride along in
the report; ``ignore`` drops a check from the reasons and the exit code (it is
still measured and reported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlctl.params.monitor import MonitorPolicy

CHECKS = (
    "data_drift",
    "prediction_drift",
    "decay",
    "staleness",
    "value_skew",
    "skew",
    "data_quality",
    "numerical_health",
)


def findings(report: dict[str, Any]) -> dict[str, str | None]:
    """check -> what was found (None: nothing) in a monitoring report."""
    d, perf, stale, skew, q = (report[k] for k in ("drift", "performance", "staleness", "skew", "quality"))
    pred = report.get("prediction_drift")
    out: dict[str, str | None] = dict.fromkeys(CHECKS)
    if d["dataset_drift"]:
        drifted = [f["feature"] for f in d["features"] if f["drifted"]]
        out["data_drift"] = f"data drift in {len(drifted)}/{len(d['features'])} features: {', '.join(drifted)}"
    if pred is not None and pred["drifted"]:
        out["prediction_drift"] = f"prediction drift ({pred['test']}, PSI {pred['psi']:.3g})"
    if perf.get("decay"):
        out["decay"] = (
            f"performance decay: {perf['primary_metric']} {perf['current']:.4g} vs {perf['reference']:.4g} evaluated"
        )
    if stale["stale"]:
        source = stale.get("max_age_source", "monitor.max_model_age_days")
        out["staleness"] = f"model is {stale['age_days']:.0f} days old (> {stale['max_age_days']:g}, {source})"
    schema = q.get("schema") or {}
    if schema.get("value_skew"):
        cols = sorted({f"{f['kind']} {f['column']!r}" for f in schema["value_skew"]})
        out["value_skew"] = f"value skew (`mlctl validate` checks): {', '.join(cols[:5])}"
    if skew.get("skew"):
        share, diff = skew["disagreement_share"], skew["max_abs_diff"]
        out["skew"] = f"training/serving skew: {share:.2%} disagreements, max diff {diff:.3g}"
    quality = []
    if q["missing_features"]:
        quality.append(f"schema skew: feature(s) missing from the current data: {', '.join(q['missing_features'])}")
    if q["invalid_rows"]:
        quality.append(f"{q['invalid_rows']} row(s) fail the model's input schema")
    if schema.get("schema_skew"):
        cols = sorted({f"{f['kind']} {f['column']!r}" for f in schema["schema_skew"]})
        quality.append(f"schema skew (`mlctl validate` checks): {', '.join(cols[:5])}")
    if quality:
        out["data_quality"] = "data quality: " + "; ".join(quality)
    bad_health = {k: v for k, v in report["health"].items() if v and k != "missing_predictions"}
    if bad_health:
        out["numerical_health"] = f"numerical health: {bad_health}"
    return out


def apply(report: dict[str, Any], policy: MonitorPolicy, notes: list[str]) -> dict[str, Any]:
    """Set the report's findings, action, reasons (retrain) and alerts (alert, then ``notes``) from the policy."""
    found = findings(report)
    actions = policy.model_dump()
    report["findings"] = [
        {"check": c, "found": found[c] is not None, "action": actions[c], "detail": found[c]} for c in CHECKS
    ]
    hits = [f for f in report["findings"] if f["found"]]
    report["reasons"] = [f["detail"] for f in hits if f["action"] == "retrain"]
    report["alerts"] = [f["detail"] for f in hits if f["action"] == "alert"] + notes
    report["ignored"] = [f["detail"] for f in hits if f["action"] == "ignore"]
    report["action"] = "retrain" if report["reasons"] else "alert" if len(report["alerts"]) > len(notes) else "ok"
    report["retrain_advised"] = report["action"] == "retrain"
    return report
