"""The stage registry: every stage declared once — name, params section, summary, how-to page, DVC deps/outs.

The CLI's command list, the ``Params`` model, ``dvc.yaml`` (mlctl.repo.dvcfile) and the docs tests are
derived from ``STAGES``. A stage's DVC entry is a function of the effective params, so a path moved in
params.yaml moves in dvc.yaml too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlctl.core import artifacts as A

NOCACHE = {"cache": False}
COMMON = ["seed", "target", "task"]

# DVC plot definitions per task: file -> template and axes.
PLOTS = {
    "classification": [
        ("confusion.csv", {"template": "confusion", "x": "actual", "y": "predicted"}),
        ("roc.csv", {"x": "fpr", "y": "tpr"}),
        ("precision_recall.csv", {"x": "recall", "y": "precision"}),
        ("calibration.csv", {"x": "mean_predicted", "y": "fraction_positive"}),
        ("feature_importance.csv", {"template": "bar_horizontal", "x": "importance", "y": "feature"}),
        ("staleness.csv", {"x": "age_days", "y": "value"}),
    ],
    "regression": [
        ("predicted_vs_actual.csv", {"template": "scatter", "x": "actual", "y": "predicted"}),
        ("residuals.csv", {"template": "scatter", "x": "predicted", "y": "residual"}),
        ("feature_importance.csv", {"template": "bar_horizontal", "x": "importance", "y": "feature"}),
        ("staleness.csv", {"x": "age_days", "y": "value"}),
    ],
}


@dataclass(frozen=True)
class Stage:
    """One stage: `mlctl <name>` = mlctl/stages/<name> = params key <name> (= DVC stage <name> when ``dvc``)."""

    name: str
    section: str  # the params class, "module:Class" under mlctl.params (imported on use: `mlctl --help` stays fast)
    summary: str
    # (effective Params, task) -> the dvc.yaml entry; an optional stage's function returns None when not configured
    dvc: Callable[[Any, str], dict[str, Any] | None] | None = None
    howto: bool = True  # docs/howto/<name>.md exists

    @property
    def params(self) -> type:
        """The pydantic section class (imported here, by name: core must not import the params layer)."""
        module, _, cls = self.section.partition(":")
        return getattr(importlib.import_module(f"mlctl.params.{module}"), cls)

    @property
    def howto_page(self) -> str | None:
        return f"docs/howto/{self.name}.md" if self.howto else None


def _splits(directory: str, names: tuple[str, ...] = A.SPLITS) -> list[str]:
    return [A.split_file(directory, s) for s in names]


FILE_KINDS = ("csv", "parquet", "jsonl")


def _file_dep(path: str) -> str:
    """What DVC watches for a file source: data/sources as a whole, else the path up to its first wildcard."""
    if path == A.SOURCES or path.startswith(A.SOURCES + "/"):
        return A.SOURCES
    cut = min((path.index(c) for c in "*?[" if c in path), default=None)
    if cut is None:
        return path
    return path[:cut].rsplit("/", 1)[0] or "."


def _collect(p: Any, task: str) -> dict[str, Any]:
    """File sources are DVC deps; SQL, HTTP and sklearn sources make collect always run.

    An always-run collect rewrites nothing when the sources' content fingerprint is unchanged
    (mlctl.stages.collect), so DVC still skips every stage after it.
    """
    c = p.collect
    files = [s.path for s in c.sources if s.kind in FILE_KINDS and s.path]
    remote = any(s.kind not in FILE_KINDS for s in c.sources)
    deps = list(dict.fromkeys(_file_dep(f) for f in files))
    stage: dict[str, Any] = {"deps": deps} if deps else {}
    stage["params"] = ["collect", "target"]
    stage["outs"] = [c.output, {c.manifest: NOCACHE}]
    if remote or not deps:
        stage["always_changed"] = True  # DVC cannot see a table, URL or dataset change: collect checks
        # persist: DVC must not delete the outputs before collect runs, or collect cannot leave them as they were
        stage["outs"] = [{c.output: {"persist": True}}, {c.manifest: {**NOCACHE, "persist": True}}]
    return stage


def _validate(p: Any, task: str) -> dict[str, Any]:
    v = p.validate_
    return {"deps": [v.input, v.schema_path, v.profile_path], "params": ["validate"], "metrics": [{v.report: NOCACHE}]}


def _prepare(p: Any, task: str) -> dict[str, Any]:
    r = p.prepare
    return {
        "deps": [r.input, p.validate_.report],
        "params": ["prepare", *COMMON],
        "outs": [r.output_dir, r.eda_html, {r.eda_md: NOCACHE}],
    }


def _train(p: Any, task: str) -> dict[str, Any]:
    t = p.train
    models = [f"{t.model_dir}/{f}" for f in (A.MODEL_FILE, A.BASELINE_FILE, A.SEARCH_RESULTS_FILE)]
    return {
        "deps": [*_splits(t.input_dir, ("train", "validation")), p.validate_.schema_path],
        "params": ["train", "validate.personal_data", *COMMON],
        "outs": models,
        "metrics": [{f"{t.model_dir}/{A.TRAIN_REPORT_FILE}": NOCACHE}],
    }


def _evaluate(p: Any, task: str) -> dict[str, Any]:
    e = p.evaluate
    models = [f"{e.model_dir}/{f}" for f in (A.MODEL_FILE, A.BASELINE_FILE, A.TRAIN_REPORT_FILE)]
    files = (A.METRICS_FILE, A.INTERVALS_FILE, A.SLICES_FILE, A.STALENESS_FILE, A.FEATURES_FILE)
    metrics = [f"{e.metrics_dir}/{f}" for f in files]
    return {
        "deps": [*models, *_splits(e.input_dir)],
        "params": ["evaluate"],
        "metrics": [{m: NOCACHE} for m in metrics],
        "plots": [{f"{e.plots_dir}/{name}": {"cache": False, **spec}} for name, spec in PLOTS[task]],
    }


def _gate(p: Any, task: str) -> dict[str, Any]:
    g = p.gate
    metrics = [f"{g.metrics_dir}/{f}" for f in (A.METRICS_FILE, A.INTERVALS_FILE, A.SLICES_FILE, A.FEATURES_FILE)]
    models = [f"{g.model_dir}/{f}" for f in (A.MODEL_FILE, A.TRAIN_REPORT_FILE)]
    # evaluate writes the model card, the gate its champion section: the card is the gate's output (persist: DVC
    # must not delete evaluate's card before the gate runs), and evaluate's params are the gate's too (a card-only
    # change, e.g. evaluate.intended_use, reruns the gate that completes the card)
    card = {g.model_card: {**NOCACHE, "persist": True}}
    return {"deps": [*metrics, *models, g.data], "params": ["gate", "evaluate"], "outs": [{g.report: NOCACHE}, card]}


def _export(p: Any, task: str) -> dict[str, Any]:
    x = p.export
    return {
        "deps": [x.model, x.train_report, p.gate.report, *_splits(x.input_dir), x.metrics],
        "params": ["export"],
        "outs": [x.output, {x.manifest: NOCACHE}],
    }


def _predict(p: Any, task: str) -> dict[str, Any]:
    from mlctl.core.fileio import table_format

    d = p.predict
    folder, _, name = d.output.rpartition("/")
    stem = (f"{folder}/" if folder else "") + name.split(".")[0]
    rejects = d.rejects or f"{stem}.rejects.{table_format(d.output)}"  # as mlctl.stages.predict.output_paths
    return {
        "deps": [d.input, d.model, d.manifest],
        "params": ["predict"],
        "outs": [d.output, rejects, {f"{stem}.manifest.json": NOCACHE}],
    }


def _bundle(p: Any, task: str) -> dict[str, Any]:
    b = p.bundle
    return {"deps": [b.model, b.manifest, b.model_card, b.parity_data], "params": ["bundle"], "outs": [A.DIST_DIR]}


def _replay(p: Any, task: str) -> dict[str, Any] | None:
    """Only when `replay.log` is configured: without a log of real traffic there is nothing to replay."""
    r = p.replay
    if not r.log:
        return None
    deps = [_file_dep(r.log), r.model, r.manifest] + ([r.labels] if r.labels else [])
    return {
        "deps": deps,
        "params": ["replay", "gate.replay"],
        "metrics": [{r.report_json: NOCACHE}],
        "outs": [{r.report_md: NOCACHE}, {r.report_html: NOCACHE}],
    }


# fmt: off
STAGES: tuple[Stage, ...] = (
    Stage("collect", "collect:CollectParams", "read the configured sources into one raw table", _collect),
    Stage(
        "validate",
        "validate:ValidateParams",
        "check the raw data against the schema and the reference profile",
        _validate,
    ),
    Stage("prepare", "prepare:PrepareParams", "clean, explore (EDA) and split the data", _prepare),
    Stage("train", "train:TrainParams", "fit the candidate models with hyperparameter search", _train),
    Stage(
        "evaluate",
        "evaluate:EvaluateParams",
        "score the model on the test split, with intervals, slices and plots",
        _evaluate,
    ),
    Stage("gate", "gate:GateParams", "decide whether the candidate may ship", _gate),
    Stage("export", "export:ExportParams", "convert the model to ONNX with a manifest and a parity check", _export),
    Stage("serve", "serve:ServeParams", "serve the ONNX model over HTTP"),
    Stage("predict", "predict:PredictParams", "score files in batch", _predict),
    Stage("bundle", "bundle:BundleParams", "package the model for edge devices", _bundle),
    Stage("replay", "replay:ReplayParams", "replay logged requests through a candidate, against the champion", _replay),
    Stage("monitor", "monitor:MonitorParams", "measure drift and decay on served or batch data"),
    Stage("retrain", "retrain:RetrainParams", "append new labelled data and propose a retrained candidate"),
    Stage("report", "report:ReportParams", "the pull-request report: this revision against its base", howto=False),
    Stage("bench", "bench:BenchParams", "latency and throughput of the exported model"),
)
# fmt: on
BY_NAME = {s.name: s for s in STAGES}
PIPELINE = tuple(s for s in STAGES if s.dvc is not None)
