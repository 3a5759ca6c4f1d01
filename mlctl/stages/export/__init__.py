"""`mlctl export`: the fitted pipeline → models/model.onnx + models/model.json, parity-checked.

Nothing is written unless the ONNX model passes onnx's checker and reproduces
scikit-learn on the test split within ``export.tolerance``; then the model
and its manifest are renamed into place together, the manifest last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import DataError, InputNotFoundError, ModelError
from mlctl.core.progress import NoProgress, Progress
from mlctl.core.project import Project
from mlctl.core.provenance import package_versions
from mlctl.model.features import Feature

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.params import Common
    from mlctl.params.export import ExportParams

# What produced and runs the model: name in the manifest → distribution name.


@dataclass
class Trained:
    """What export needs from `mlctl train`: the pipeline and its report."""

    pipeline: Any
    features: list[Feature]
    task: str
    target: str
    classes: list | None
    report: dict = field(default_factory=dict)

    @property
    def estimator(self) -> str:
        return (
            type(self.pipeline.steps[-1][1]).__name__
            if hasattr(self.pipeline, "steps")
            else type(self.pipeline).__name__
        )


@dataclass
class ExportResult:
    """What `mlctl export` wrote and how well ONNX matched scikit-learn."""

    onnx_path: Path
    manifest_path: Path
    manifest: dict
    seconds: float

    def to_dict(self) -> dict:
        m = self.manifest
        return {
            "onnx": str(self.onnx_path),
            "manifest": str(self.manifest_path),
            "estimator": m["train"]["estimator"],
            "version": m["version"],
            "sha256": m["sha256"],
            "size_bytes": m["size_bytes"],
            "opset": m["opset"],
            "inputs": len(m["inputs"]),
            "parity": m["parity"],
            "seconds": round(self.seconds, 3),
        }


def load_trained(project: Project, params: ExportParams, common: Common | None = None) -> Trained:
    """Load models/model.skops and models/train.json, checked against each other and params."""
    from mlctl.core.fileio import load_skops, read_json

    pipeline = load_skops(project.path(params.model, what="export.model"))
    report_path = project.path(params.train_report, what="export.train_report")
    if not report_path.exists():
        raise InputNotFoundError("training report not found", where=project.rel(report_path), hint="run `mlctl train`")
    report = read_json(report_path)
    where = project.rel(report_path)
    missing = [k for k in ("features", "task", "target") if k not in report]
    if missing:
        raise ModelError(f"training report lacks {missing}", where=where, hint="re-run `mlctl train`")
    try:
        features = [Feature(f["name"], f["kind"]) for f in report["features"]]
    except (KeyError, TypeError):
        raise ModelError("features must be a list of {name, kind}", where=where, hint="re-run `mlctl train`") from None
    if common is not None and (report["task"], report["target"]) != (common.task, common.target):
        raise ModelError(
            f"the model was trained for {report['task']} of {report['target']!r}, "
            f"params.yaml asks for {common.task} of {common.target!r}",
            where=where,
            hint="re-run `mlctl train` (or `dvc repro`)",
        )
    classes = report.get("classes")
    if report["task"] == "classification" and classes is None:
        classes = [c.item() if hasattr(c, "item") else c for c in getattr(pipeline, "classes_", [])]
    return Trained(pipeline, features, report["task"], report["target"], classes, report)


def numeric_metrics(data: Any) -> dict[str, float]:
    """The model's scalar test metrics from metrics/evaluate.json (its "model" section, plus rows)."""
    if not isinstance(data, dict):
        return {}

    def scalars(d: dict) -> dict[str, float]:
        return {k: v for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    found = scalars(data)
    if isinstance(data.get("model"), dict):  # evaluate writes {model: {...}, baseline: {...}, rows}
        found = {**scalars(data["model"]), **({"rows": data["rows"]} if "rows" in found else {})}
    return found


def export_model(
    trained: Trained,
    X_train: pd.DataFrame,
    X_check: pd.DataFrame,
    params: ExportParams,
    *,
    metrics: dict | None = None,
    data_hash: str | None = None,
    check_where: str = "test split",
    progress: Progress | None = None,
) -> tuple[bytes, dict]:
    """The pure core: convert, annotate, check, prove parity; return (onnx bytes, manifest)."""
    import onnx
    import onnxruntime as ort

    from mlctl import __version__
    from mlctl.onnxmodel.manifest import Manifest
    from mlctl.onnxmodel.parity import compare
    from mlctl.onnxmodel.runtime import OnnxModel, sha256_bytes
    from mlctl.stages.export import convert as cv

    progress = progress or NoProgress()
    progress.start(f"convert {trained.estimator}", total=3)
    model = cv.to_onnx(trained.pipeline, trained.features, opset=params.opset, name=params.model_name)
    version = sha256_bytes(model.SerializeToString())[:12]  # the graph alone: metadata does not change it
    cv.set_metadata(
        model,
        {
            f"{cv.METADATA_PREFIX}features": [f.to_dict() for f in trained.features],
            f"{cv.METADATA_PREFIX}task": trained.task,
            f"{cv.METADATA_PREFIX}target": trained.target,
            f"{cv.METADATA_PREFIX}classes": trained.classes,
            f"{cv.METADATA_PREFIX}estimator": trained.estimator,
            f"{cv.METADATA_PREFIX}data_hash": data_hash or "",
            f"{cv.METADATA_PREFIX}metrics": metrics or {},
            f"{cv.METADATA_PREFIX}model_version": version,
            f"{cv.METADATA_PREFIX}mlctl_version": __version__,
        },
    )
    model.doc_string = f"mlctl {trained.estimator} predicting {trained.target!r} ({trained.task})"
    progress.advance()
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # onnx raises ValidationError and friends
        raise ModelError(
            f"the converted model fails onnx's checker: {exc}", hint="report this as an mlctl bug"
        ) from None
    data = model.SerializeToString()
    opsets = cv.opset_imports(model)
    manifest = cv.build_manifest(
        data,
        name=params.model_name,
        task=trained.task,
        target=trained.target,
        features=trained.features,
        X_train=X_train,
        classes=trained.classes,
        opset=opsets.get("ai.onnx", 0),
        version=version,
        onnx_file=Path(params.output).name,
        outputs=cv.output_schema(model, cv.scores_kind(trained.pipeline)),
    )
    progress.advance()
    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(
            f"onnxruntime cannot load the converted model: {exc}", hint="report this as an mlctl bug"
        ) from None
    parity = compare(
        trained.pipeline,
        OnnxModel(session, manifest),
        X_check,
        tolerance=params.tolerance,
        label_agreement=params.label_agreement,
    )
    progress.advance()
    progress.done()
    if not parity.passed:
        raise ModelError(
            f"ONNX model does not reproduce scikit-learn's {trained.estimator}: {parity.describe()}",
            where=f"{check_where}, row {parity.worst_row}",
            hint="raise export.tolerance only if the difference is float32 rounding; "
            "otherwise choose another estimator in train.candidates",
        )
    manifest.update(
        {
            "opset_imports": opsets,
            "size_bytes": len(data),
            "parity": parity.to_dict(),
            "metrics": metrics or {},
            "data_hash": data_hash,
            "packages": package_versions(),
            "features": [f.to_dict() for f in trained.features],
            "train": {
                "estimator": trained.estimator,
                "candidate": (trained.report.get("best") or {}).get("candidate"),
                "params": (trained.report.get("best") or {}).get("params"),
                "fit_rows": trained.report.get("fit_rows"),
                "refit_on": trained.report.get("refit_on"),
                "git_commit": trained.report.get("git_commit"),
            },
        }
    )
    return data, Manifest.parse(manifest, "the exported manifest").to_dict()  # never write a manifest readers refuse


def _split(project: Project, params: ExportParams, name: str) -> tuple[pd.DataFrame, str]:
    from mlctl.core.fileio import read_table

    path = project.path(Path(params.input_dir) / f"{name}.parquet", what="export.input_dir")
    if not path.exists():
        raise InputNotFoundError(
            f"processed {name} split not found", where=project.rel(path), hint="run `mlctl prepare`"
        )
    return read_table(path), project.rel(path)


MB = 1_000_000  # decimal megabytes, as the gate counts them


def size_limit_mb(project: Project, params: ExportParams) -> float | None:
    """The gate's ``max_model_mb`` as its report recorded it (None: no size rule, or no report)."""
    from mlctl.core.fileio import read_json

    report = project.path(params.gate_report, what="export.gate_report")
    if not report.exists():
        return None
    rules = [r for r in read_json(report).get("rules") or [] if r.get("rule") == "model_size"]
    return rules[0].get("limit") if rules else None


def check_size(project: Project, params: ExportParams, size_bytes: int) -> None:
    """Refuse to write an ONNX model larger than the gate allows (the gate judged the pickled pipeline)."""
    from mlctl.core.errors import GateRejectedError

    limit = size_limit_mb(project, params)
    if limit is None or size_bytes <= limit * MB:
        return
    detail = f"the exported ONNX model is {size_bytes / MB:.3f} MB (limit {limit:g} MB)"
    raise GateRejectedError(
        f"model_size: {detail}",
        report={"passed": False, "failed": ["model_size"], "rules": [{"rule": "model_size", "detail": detail}]},
        where=project.rel(project.path(params.output, what="export.output")),
        hint="bound the search spaces (tree depth, leaves, tree count) or raise gate.max_model_mb",
    )


def run(params: ExportParams, common: Common, project: Project, progress: Progress | None = None) -> ExportResult:
    """Export the trained pipeline to ONNX, proven on the test split, with its manifest."""
    import pandas as pd

    from mlctl.core.fileio import atomic_path, dumps_json, frame_hash, read_json
    from mlctl.model.features import to_model_frame

    started = time.perf_counter()
    trained = load_trained(project, params, common)
    train, train_where = _split(project, params, "train")
    data_hash = frame_hash(train)
    expected = trained.report.get("data_hash")
    if expected and expected != data_hash:
        raise ModelError(
            "the train split changed since the model was trained",
            where=train_where,
            hint="re-run `mlctl train` (or `dvc repro`) so the model matches the data",
        )
    schema_frame = train
    if "validation" in (trained.report.get("refit_on") or []):  # the encoder also saw these levels
        schema_frame = pd.concat([train, _split(project, params, "validation")[0]], ignore_index=True)
    check, check_where = _split(project, params, params.parity_split)
    if check.empty:
        raise DataError(f"the {params.parity_split} split has no rows to check parity on", where=check_where)
    if len(check) > params.parity_rows:  # the manifest's parity.rows says how many were compared
        check = check.sample(params.parity_rows, random_state=common.seed).sort_index()
    metrics_path = project.path(params.metrics, what="export.metrics")
    metrics = numeric_metrics(read_json(metrics_path)) if metrics_path.exists() else {}
    data, manifest = export_model(
        trained,
        schema_frame,  # raw: the schema encodes each categorical's distinct values only
        to_model_frame(check, trained.features),
        params,
        metrics=metrics,
        data_hash=data_hash,
        check_where=check_where,
        progress=progress,
    )
    check_size(project, params, len(data))
    onnx_path = project.path(params.output, what="export.output")
    manifest_path = project.path(params.manifest, what="export.manifest")
    # Both files are written to temporary names first; leaving the block renames
    # the model, then the manifest. A failure before that leaves neither.
    with atomic_path(manifest_path) as tmp_manifest, atomic_path(onnx_path) as tmp_onnx:
        tmp_onnx.write_bytes(data)
        tmp_manifest.write_text(dumps_json(manifest), encoding="utf-8")
    return ExportResult(onnx_path, manifest_path, manifest, time.perf_counter() - started)
