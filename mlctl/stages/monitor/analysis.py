"""Turn the accumulated state into findings: drift, prediction drift, decay, skew, quality, staleness, windows."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from mlctl.data.drift import (
    FeatureDrift,
    Thresholds,
    categorical_drift,
    dataset_drift,
    drift_share,
    numeric_drift,
    psi,
)
from mlctl.stages.monitor.accumulate import PRED, Accumulator
from mlctl.stages.monitor.reference import score_with_proba

if TYPE_CHECKING:
    from mlctl.params.monitor import MonitorParams


def thresholds(params: MonitorParams) -> Thresholds:
    """The drift thresholds from params.yaml."""
    return Thresholds(
        p_value=params.p_value,
        psi=params.psi_threshold,
        wasserstein=params.wasserstein_threshold,
        jensenshannon=params.jensenshannon_threshold,
        large_sample=params.large_sample,
    )


def feature_drift(acc: Accumulator, th: Thresholds) -> list[FeatureDrift]:
    """One test per present feature: the reference against the current counts and sample."""
    ref, sample = acc.ref, acc.sample.frame
    results = []
    for f in acc.present:
        b, cur_counts = ref.bins[f.name], acc.counts[f.name]
        if f.kind == "numeric":
            cur = sample[f.name].to_numpy() if sample is not None else np.empty(0)
            results.append(
                numeric_drift(f.name, ref.sample[f.name].to_numpy(), cur, ref.counts[f.name], cur_counts, th)
            )
        else:
            results.append(categorical_drift(f.name, ref.counts[f.name], cur_counts, th, missing_bin=b.missing_bin))
    return results


def prediction_drift(acc: Accumulator, th: Thresholds) -> FeatureDrift | None:
    """The predicted classes (chi-square/JS) or values (KS/Wasserstein) against the reference's."""
    ref = acc.ref
    if ref.pred_bins is None or acc.pred_counts is None or acc.pred_counts.sum() == 0:
        return None
    if acc.task == "classification":
        counts = acc.pred_counts.copy()
        # rows the model could not score are no predicted class: leave them out of both sides
        ref_counts = ref.pred_counts.copy()
        counts[ref.pred_bins.missing_bin] = ref_counts[ref.pred_bins.missing_bin] = 0
        return categorical_drift("prediction", ref_counts, counts, th)
    sample = acc.sample.frame
    cur = sample[PRED].to_numpy(dtype="float64") if sample is not None else np.empty(0)
    return numeric_drift("prediction", ref.pred_values, cur, ref.pred_counts, acc.pred_counts, th)


def primary_metric(task: str, params: MonitorParams, has_proba: bool) -> str:
    if params.primary_metric:
        return params.primary_metric
    if task == "regression":
        return "r2"
    return "roc_auc" if has_proba else "accuracy"


def performance(acc: Accumulator, params: MonitorParams, evaluation: dict | None) -> dict[str, Any]:
    """Metrics on the labelled rows and the decay verdict against the evaluated test metrics."""
    from mlctl.model.metrics import Scored, compute, higher_is_better

    frame = acc.labelled.frame
    out: dict[str, Any] = {"labelled_rows": 0 if frame is None else len(frame), "decay": False}
    if acc.unlabelled_unknown:
        out["unknown_labels"] = acc.unlabelled_unknown
    if frame is None or len(frame) == 0:
        out["note"] = "no labels in the current data (pass --labels FILE with request_id and the target)"
        return out
    if acc.task == "classification":
        classes = acc.classes
        lookup = {c: i for i, c in enumerate(classes)}
        ok = frame[PRED].isin(lookup).to_numpy()
        frame = frame.loc[ok]
        y = frame["__y"].map(lookup).to_numpy(dtype=int)
        pred = frame[PRED].map(lookup).to_numpy(dtype=int)
        cols = [f"proba_{c}" for c in classes]
        scores = frame[cols].to_numpy(dtype="float64") if all(c in frame for c in cols) else None
        if scores is not None and not np.isfinite(scores).all():
            scores = None
        scored = Scored("classification", y, pred, scores, scores is not None, list(classes))
    else:
        y = frame["__y"].to_numpy(dtype="float64")
        pred = frame[PRED].to_numpy(dtype="float64")
        keep = np.isfinite(y) & np.isfinite(pred)
        scored = Scored("regression", y[keep], pred[keep])
    values, undefined = compute(scored)
    metric = primary_metric(acc.task, params, scored.scores is not None)
    if values.get(metric) is None and metric == "roc_auc":
        metric = "accuracy"
    out.update(metrics=values, undefined=undefined, primary_metric=metric, current=values.get(metric))
    reference = ((evaluation or {}).get("model") or {}).get(metric)
    out["reference"] = reference
    if len(scored) < params.min_labelled_rows:
        out["note"] = f"only {len(scored)} labelled rows (< monitor.min_labelled_rows): decay not judged"
    elif reference is None or values.get(metric) is None:
        out["note"] = f"no evaluated {metric} to compare with (run `mlctl evaluate`)"
    else:
        change = values[metric] - reference
        out["change"] = change
        out["decay"] = bool(
            -change > params.decay_tolerance if higher_is_better(metric) else change > params.decay_tolerance
        )
    return out


def skew(acc: Accumulator, params: MonitorParams) -> dict[str, Any]:
    """Served predictions against the exported model's offline predictions of the same (sampled) inputs."""
    sample = acc.sample.frame
    if not acc.served:
        return {"checked": False, "note": "the data holds no served predictions"}
    if not acc.scorable:
        return {"checked": False, "note": "features are missing: the inputs cannot be re-scored"}
    if sample is None or not len(sample):
        return {"checked": False, "note": "no rows"}
    pred, proba = score_with_proba(acc.model, sample)
    served = sample[PRED].to_numpy()
    out: dict[str, Any] = {"checked": True, "rows": len(sample)}
    if acc.task == "classification":
        out["disagreement_share"] = float(np.mean(served != pred))
        cols = [f"proba_{c}" for c in acc.classes]
        diff = 0.0
        if acc.has_proba and proba is not None and all(c in sample for c in cols):
            d = np.abs(sample[cols].to_numpy(dtype="float64") - proba)
            diff = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
        out["max_abs_diff"] = diff
        out["skew"] = bool(out["disagreement_share"] > 0 or diff > params.skew_tolerance)
    else:
        d = np.abs(served.astype("float64") - pred)
        out["disagreement_share"] = float(np.mean(d > params.skew_tolerance * np.maximum(1.0, np.abs(pred))))
        out["max_abs_diff"] = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
        out["skew"] = out["disagreement_share"] > 0
    return out


def staleness(manifest: dict, max_days: float, now: dt.datetime | None = None) -> dict[str, Any]:
    """Age of the model (manifest `created`) against monitor.max_model_age_days."""
    now = now or dt.datetime.now(dt.UTC)
    created = manifest.get("created")
    out: dict[str, Any] = {"created": created, "max_age_days": max_days, "age_days": None, "stale": False}
    try:
        when = dt.datetime.fromisoformat(str(created))
    except ValueError:
        out["note"] = "the manifest has no valid `created` time"
        return out
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    out["age_days"] = (now - when).total_seconds() / 86400
    out["stale"] = out["age_days"] > max_days
    return out


def quality(acc: Accumulator, missing: list[str], extra: list[str]) -> dict[str, Any]:
    """Invalid rows by reason, unseen categories, values outside the training range, null rates."""
    rows = max(acc.rows, 1)
    features = []
    for f in acc.present:
        b, counts, ref_counts = acc.ref.bins[f.name], acc.counts[f.name], acc.ref.counts[f.name]
        entry = {
            "feature": f.name,
            "null_ref": float(ref_counts[b.missing_bin] / max(ref_counts.sum(), 1)),
            "null_cur": float(counts[b.missing_bin] / rows),
        }
        if b.other_bin is not None:
            entry["unseen_share"] = float(counts[b.other_bin] / rows)
        if f.name in acc.out_of_range:
            entry["out_of_range_share"] = acc.out_of_range[f.name] / rows
        features.append(entry)
    return {
        "rows": acc.rows,
        "invalid_rows": acc.invalid_rows,
        "invalid_share": acc.invalid_rows / rows,
        "reasons": dict(acc.invalid.most_common(20)),
        "missing_features": missing,
        "extra_columns": extra,
        "features": features,
    }


def windows(acc: Accumulator, params: MonitorParams) -> list[dict[str, Any]]:
    """Per time window: rows, PSI-drifted share, prediction distribution, latency and metric."""
    out = []
    for key in sorted(acc.windows):
        win = acc.windows[key]
        start = None if key == np.iinfo(np.int64).min else dt.datetime.fromtimestamp(key, dt.UTC).isoformat()
        entry: dict[str, Any] = {"start": start, "rows": win.rows}
        if win.rows >= params.min_window_rows and win.counts:
            scores = {n: psi(acc.ref.counts[n], c) for n, c in win.counts.items()}
            drifted = sorted(n for n, v in scores.items() if np.isfinite(v) and v > params.psi_threshold)
            entry.update(drift_share=len(drifted) / len(scores), drifted=drifted, psi=scores)
        if win.pred_counts is not None and win.rows:
            if acc.task == "classification":
                total = max(int(win.pred_counts[: len(acc.classes)].sum()), 1)
                entry["prediction_shares"] = {c: win.pred_counts[i] / total for i, c in enumerate(acc.classes)}
            else:
                entry["prediction_mean"] = win.pred_sum / win.rows
        if win.latency_rows:
            entry["latency_ms_mean"] = win.latency_sum / win.latency_rows
        if win.labelled:
            name = "accuracy" if acc.task == "classification" else "mae"
            value = win.correct / win.labelled if acc.task == "classification" else win.abs_error / win.labelled
            entry.update(labelled=win.labelled, metric=name, metric_value=value)
        out.append(entry)
    return out


def summary(features: list[FeatureDrift], params: MonitorParams) -> dict[str, Any]:
    share = drift_share(features)
    return {
        "features_tested": len(features),
        "features_drifted": sum(r.drifted for r in features),
        "drift_share": share,
        "drift_share_threshold": params.drift_share,
        "dataset_drift": dataset_drift(features, params.drift_share),
    }


def compare_frames(reference, current, features, th: Thresholds, bins: int = 10) -> list[FeatureDrift]:
    """The same per-feature tests on two in-memory frames (no model, no streaming)."""
    from mlctl.model.features import to_model_frame
    from mlctl.stages.monitor.reference import Bins

    R, C = to_model_frame(reference, features), to_model_frame(current, features)
    results = []
    for f in features:
        r, c = R[f.name].to_numpy(), C[f.name].to_numpy()
        if f.kind == "numeric":
            b = Bins.numeric(f.name, r, bins)
            results.append(numeric_drift(f.name, r, c, b.counts(r), b.counts(c), th))
        else:
            b = Bins.categorical(f.name, r)
            results.append(categorical_drift(f.name, b.counts(r), b.counts(c), th, missing_bin=b.missing_bin))
    return results


def schema_validation(acc: Accumulator, schema, profile: dict, vparams) -> dict[str, Any] | None:
    """`mlctl validate`'s checks (pandera schema + reference profile) on the sampled raw rows.

    The schema describes the collected data; request logs carry only the model's
    inputs, so it is restricted to the columns the current data has.
    """
    from mlctl.stages.validate.findings import validate_frame

    frame = acc.raw.frame
    if frame is None or not len(frame):
        return None
    absent = [c for c in schema.columns if c not in frame.columns]
    lean = schema.remove_columns(absent) if absent else schema
    report = validate_frame(frame.reset_index(drop=True), lean, profile, vparams)
    return {
        "rows_checked": report["rows"],
        "valid": report["valid"],
        "schema_skew": report["schema_skew"],
        "value_skew": [f for f in report["value_skew"] if f["exceeded"]],
        "columns_not_checked": absent,
    }
