"""`mlctl monitor`: compare current data (a file, request logs, batch outputs) with the reference.

Reads the current data in chunks (any size), tests every feature for drift,
the predictions for drift, the labelled rows for performance decay, the
served predictions for training/serving skew, the inputs for quality, and the
model for staleness and numerical health, overall and per time window. Writes
reports/monitor.{json,md,html}, then acts on ``monitor.policy``: DriftDetected
(exit 7) when a finding asks for retraining, MonitorAlert (exit 9) when one asks
for a person, so CI and schedulers can act on the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import DataError, DataValidationError, DriftDetected, InputNotFoundError, MonitorAlert
from mlctl.core.progress import NoProgress, Progress

if TYPE_CHECKING:
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.monitor import MonitorParams
    from mlctl.params.validate import ValidateParams

META_COLUMNS = {"request_id", "timestamp", "model_version", "latency_ms", "prediction"}


@dataclass
class MonitorResult:
    """The monitoring report (as written to reports/monitor.json) and where the reports went."""

    report: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict, repr=False)  # reference + state, for the plots

    @property
    def verdict(self) -> str:
        return self.report["verdict"]

    @property
    def retrain_advised(self) -> bool:
        return self.report["retrain_advised"]

    def to_dict(self) -> dict[str, Any]:
        return {**self.report, "outputs": self.outputs}


def run(
    params: MonitorParams,
    common: Common,
    project: Project,
    progress: Progress | None = None,
    *,
    current: str | Path | None = None,
    labels: str | Path | None = None,
    validate: ValidateParams | None = None,
) -> MonitorResult:
    """Monitor, write the three reports, and raise DriftDetected after writing when retraining is advised.

    ``validate`` (params.yaml `validate:`) locates the schema and profile of
    `mlctl validate` and its tolerances; without it the defaults are used.
    """
    result = analyse(params, common, project, progress, current=current, labels=labels, validate=validate)
    from mlctl.stages.monitor.results import write_reports

    result.outputs = write_reports(result.report, result.extras, params, project)
    where = project.rel(project.path(params.report_json))
    if result.retrain_advised:
        raise DriftDetected(
            f"verdict {result.verdict!r}: " + "; ".join(result.report["reasons"]),
            report=result.to_dict(),
            where=where,
            hint="retrain on recent labelled data: `mlctl retrain --data FILE --trigger drift`",
        )
    if result.report["action"] == "alert":
        raise MonitorAlert(
            "; ".join(result.report["alerts"]),
            report=result.to_dict(),
            where=where,
            hint="a person must look (retraining would not fix it); monitor.policy sets what each check does",
        )
    return result


def analyse(
    params: MonitorParams,
    common: Common,
    project: Project,
    progress: Progress | None = None,
    *,
    current: str | Path | None = None,
    labels: str | Path | None = None,
    validate: ValidateParams | None = None,
) -> MonitorResult:
    """Everything but the writing: read, accumulate, test; returns the report (no files written)."""
    from mlctl.core.fileio import read_json, read_table
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.stages.monitor import analysis as an
    from mlctl.stages.monitor import policy
    from mlctl.stages.monitor.accumulate import Accumulator
    from mlctl.stages.monitor.current import columns_of, iter_chunks, load_labels, open_source
    from mlctl.stages.monitor.reference import build_reference, features_of

    progress = progress or NoProgress()
    model = OnnxModel.load(project.path(params.model, what="model"), project.path(params.manifest, what="manifest"))
    manifest = model.manifest
    target = manifest.get("target") or common.target
    features = features_of(manifest)
    source = open_source(project.path(current or params.current, what="current data"))
    columns = columns_of(source)
    present = [f.name for f in features if f.name in columns]
    missing = [f.name for f in features if f.name not in columns]
    if not present:
        raise DataValidationError(
            f"none of the model's {len(features)} features are in the current data",
            where=project.rel(source.path),
            hint=f"the model takes {[f.name for f in features]}; columns found: {columns[:20]}",
        )
    ref_path = project.path(params.reference, what="reference")
    if not ref_path.exists():
        raise InputNotFoundError("reference data not found", where=project.rel(ref_path), hint="run `mlctl prepare`")
    ref_df = read_table(ref_path)
    ref_missing = [f.name for f in features if f.name not in ref_df.columns]
    if ref_missing:
        raise DataError(f"reference lacks feature(s) {ref_missing}", where=project.rel(ref_path))
    progress.start("profiling the reference")
    ref = build_reference(ref_df, features, params.bins, params.sample_rows, common.seed, model)
    del ref_df
    progress.done()
    labels_path = labels or params.labels
    label_series = load_labels(project.path(labels_path, what="labels"), target) if labels_path else None
    eval_path = project.path(params.evaluation, what="evaluation")
    evaluation = read_json(eval_path) if eval_path.exists() else None
    schema, profile, vparams = _schema(project, validate)

    acc = Accumulator(
        ref,
        model,
        present=present,
        target=target,
        labels=label_series,
        window=params.window,
        timestamp=params.timestamp_column,
        sample_rows=params.sample_rows,
        seed=common.seed,
        raw_columns=list(schema.columns) if schema is not None else None,
    )
    wanted = {*present, *META_COLUMNS, params.timestamp_column, target}
    progress.start("reading current data", total=_total_rows(source.files))
    for chunk in iter_chunks(source, wanted, model.version, params.chunk_rows):
        acc.add(chunk)
        progress.advance(len(chunk))
    progress.done()
    if acc.rows == 0:
        if source.other_versions:
            found = ", ".join(f"{v} ({n} rows)" for v, n in source.other_versions.most_common())
            raise InputNotFoundError(
                f"no rows of the served model version {model.version}; found {found}",
                where=project.rel(source.path),
                hint="monitor the logs of the deployed model, or point monitor.model at the model that served them",
            )
        raise DataError("the current data has no rows", where=project.rel(source.path))

    progress.start("testing for drift")
    th = an.thresholds(params)
    drift = an.feature_drift(acc, th)
    pred_drift = an.prediction_drift(acc, th)
    report = _report(params, project, source, model, acc, drift, pred_drift, evaluation, missing, columns, target)
    if schema is not None:
        report["quality"]["schema"] = an.schema_validation(acc, schema, profile, vparams)
    policy.apply(report, params.policy, report.pop("notes"))
    progress.done()
    return MonitorResult(report, extras={"reference": ref, "accumulator": acc})


def _report(params, project, source, model, acc, drift, pred_drift, evaluation, missing, columns, target) -> dict:
    from mlctl.stages.monitor import analysis as an

    known = {f.name for f in acc.ref.features} | META_COLUMNS | {params.timestamp_column, target}
    extra = [c for c in columns if c not in known and not c.startswith("proba_")]
    summary = an.summary(drift, params)
    perf = an.performance(acc, params, evaluation)
    max_days, age_source = max_age(params, project)
    stale = {**an.staleness(model.manifest, max_days), "max_age_source": age_source}
    skew = an.skew(acc, params)
    quality = an.quality(acc, missing, extra)
    health = {k: int(v) for k, v in acc.health.items()}
    verdict = (
        "decay"
        if perf.get("decay")
        else "drift"
        if summary["dataset_drift"] or (pred_drift is not None and pred_drift.drifted)
        else "ok"
    )
    notes = []  # informational: never an exit code
    if not summary["dataset_drift"] and summary["features_drifted"]:
        notes.append(f"{summary['features_drifted']} feature(s) drifted, below the dataset drift share")
    if source.other_versions:
        notes.append(f"rows of other model versions not analysed: {dict(source.other_versions)}")
    return {
        "verdict": verdict,
        "notes": notes,  # the policy (mlctl.stages.monitor.policy) sets action, reasons, alerts, retrain_advised
        "model": {"name": model.name, "version": model.version, "task": model.task},
        "current": {
            "path": project.rel(source.path),
            "kind": source.kind,
            "files": len(source.files),
            "rows": acc.rows,
            "served_predictions": acc.served,
            "other_versions": dict(source.other_versions),
        },
        "reference": {"path": params.reference, "rows": acc.ref.rows},
        "drift": {**summary, "features": [r.to_dict() for r in drift]},
        "prediction_drift": pred_drift.to_dict() if pred_drift is not None else None,
        "performance": perf,
        "skew": skew,
        "quality": quality,
        "staleness": stale,
        "health": health,
        "window": params.window if acc.has_timestamp else None,
        "windows": an.windows(acc, params) if acc.has_timestamp else [],
        "thresholds": {
            "p_value": params.p_value,
            "psi": params.psi_threshold,
            "wasserstein": params.wasserstein_threshold,
            "jensenshannon": params.jensenshannon_threshold,
            "large_sample": params.large_sample,
            "drift_share": params.drift_share,
            "decay_tolerance": params.decay_tolerance,
        },
    }


def max_age(params: MonitorParams, project: Project) -> tuple[float, str]:
    """The maximum model age in days and where it comes from: evaluate's staleness curve, else the setting."""
    from mlctl.core.fileio import read_json

    if params.staleness:
        path = project.path(params.staleness, what="monitor.staleness")
        curve = read_json(path) if path.exists() else {}
        if curve.get("max_age_days"):
            return float(curve["max_age_days"]), f"staleness curve {params.staleness}"
    return params.max_model_age_days, "monitor.max_model_age_days"


def _schema(project: Project, validate: ValidateParams | None):
    """The schema and profile of `mlctl validate`, when the project has them (else None)."""
    from mlctl.core.fileio import read_json
    from mlctl.data.schema import load_schema
    from mlctl.params.validate import ValidateParams

    vparams = validate or ValidateParams()
    schema_path = project.path(vparams.schema_path, what="validate.schema_path")
    profile_path = project.path(vparams.profile_path, what="validate.profile_path")
    if not (schema_path.exists() and profile_path.exists()):
        return None, None, vparams
    return load_schema(schema_path), read_json(profile_path), vparams


def _total_rows(files: list[Path]) -> int | None:
    """Rows in all files when they are Parquet (from the footers), for the progress bar."""
    import pyarrow.parquet as pq

    if not all(f.suffix.lower() in (".parquet", ".pq") for f in files):
        return None
    try:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except (OSError, ValueError):
        return None
