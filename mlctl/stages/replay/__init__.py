"""`mlctl replay`: logged requests run through a candidate offline and compared with what the champion answered.

Reads the request log of `mlctl serve` (a directory, a glob, a time window), scores the champion's
rows with the candidate (ONNX, sha256-checked as `mlctl predict` loads it), and reports: label
agreement overall and per slice, the shift of scores and labels (the statistics of `mlctl monitor`),
the largest disagreements with their inputs, rows the candidate rejects that the champion answered,
the candidate's single-row latency on the same rows (against the champion's when replay.champion is
set), and both models' metrics where labels arrived later (joined by request id, as `monitor` does).
Writes reports/replay.{json,md,html}, then raises GateRejectedError (exit 5) when a limit of
`gate.replay` is breached.

Exit codes: 3 no log files, no rows in the window, no champion model; 4 a file that is not a request
log; 8 a candidate whose inputs are not in the log (or a corrupt model); 5 a breached limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlctl.core.errors import GateRejectedError
from mlctl.core.progress import NoProgress

if TYPE_CHECKING:
    from mlctl.core.progress import Progress
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.gate import ReplayLimits
    from mlctl.params.monitor import MonitorParams
    from mlctl.params.replay import ReplayParams


@dataclass
class ReplayResult:
    report: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.report, "outputs": self.outputs}


def run(
    params: ReplayParams,
    limits: ReplayLimits,
    monitor: MonitorParams,
    common: Common,
    project: Project,
    progress: Progress | None = None,
    *,
    log: str | None = None,
    unknown: str = "ignore",
    now: dt.datetime | None = None,
) -> ReplayResult:
    """Replay, write the three reports, raise GateRejectedError after writing when a limit is breached."""
    from mlctl.stages.replay.breaches import judge
    from mlctl.stages.replay.pages import write_reports

    report = analyse(params, monitor, common, project, progress, log=log, unknown=unknown, now=now)
    checks = judge(report, limits)
    failed = [c["metric"] for c in checks if not c["passed"] and not c["skipped"]]
    report["limits"] = {"checks": checks, "passed": not failed, "failed": failed}
    result = ReplayResult(report, write_reports(report, params, project))
    if failed:
        raise GateRejectedError(
            f"replay breached gate.replay: {', '.join(failed)}",
            report=result.to_dict(),
            where=result.outputs["json"],
            hint="see the disagreements and new rejects in the report; fix the candidate or revise gate.replay",
        )
    return result


def _default_log(params: ReplayParams, log: str | None) -> str:
    from mlctl.core import artifacts as A

    return log or params.log or A.REQUEST_LOGS


def analyse(
    params: ReplayParams,
    monitor: MonitorParams,
    common: Common,
    project: Project,
    progress: Progress | None = None,
    *,
    log: str | None = None,
    unknown: str = "ignore",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Everything but the writing: the report as a dict."""
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.stages.monitor.analysis import thresholds
    from mlctl.stages.replay import agreement as ag
    from mlctl.stages.replay import traffic

    progress = progress or NoProgress()
    now = now or dt.datetime.now(dt.UTC)
    # as `mlctl predict` loads it: one thread, integer codes for labels and categories where the graph allows
    model_path, manifest_path = project.path(params.model, what="model"), project.path(params.manifest, what="manifest")
    candidate = OnnxModel.load(model_path, manifest_path, threads=1, codes=True)
    inputs = list(candidate.input_names)
    where, files = traffic.find_files(project, _default_log(params, log))
    since = traffic.parse_time(params.since, "replay.since / --since", now)
    until = traffic.parse_time(params.until, "replay.until / --until", now)
    progress.start("reading the request log")
    categorical = tuple(s.name for s in candidate.inputs if s.kind == "categorical")
    got = traffic.read(
        files, where, inputs, since=since, until=until, version=params.champion_version, categorical=categorical
    )
    progress.done()
    table = got.table
    n = table.num_rows
    progress.start("scoring the logged rows with the candidate", total=n)
    answers = ag.score(table, candidate, params.chunk_rows, unknown)
    progress.advance(n)
    progress.done()

    task = candidate.task
    class_keys = [str(c) for c in candidate.classes] if candidate.classes is not None else None
    logged = table["prediction"]
    if task == "classification":  # the champion's labels as codes into the candidate's classes (+ any others)
        champion, levels = ag.codes_of(logged, class_keys or [])
    else:
        champion, levels = logged.to_numpy(zero_copy_only=False).astype(np.float64), []
    champ_proba = ag.champion_scores(table, class_keys) if task == "classification" else None
    disagrees, gap = ag.differences(task, champion, answers, champ_proba, params.tolerance)
    compared = int(answers.ok.sum())
    ids = got.ids  # request ids, read for the rows that need them

    report: dict[str, Any] = {
        "candidate": {"name": candidate.name, "version": candidate.version, "sha256": candidate.sha256, "task": task},
        "log": {
            "source": got.source,
            "files": got.files,
            "rows_read": got.rows_read,
            "rows": n,
            "champion_versions": got.versions,
            "other_roles": got.other_roles,
            "outside_window": got.outside_window,
            "window": got.window,
        },
        "agreement": {
            "compared": compared,
            "disagreements": int(disagrees.sum()),
            "disagreement": float(disagrees.sum() / compared) if compared else None,
            "agreement": float(1 - disagrees.sum() / compared) if compared else None,
            "tolerance": params.tolerance if task == "regression" else None,
        },
        "slices": _slices(params, candidate, table, answers.ok, disagrees),
        "shift": _shift(task, champion, levels, answers, champ_proba, class_keys, thresholds(monitor), common.seed),
        "disagreements": _top(params.top, table, inputs, ids, levels, answers, disagrees, gap),
        "rejects": _rejects(params.top, table, inputs, ids, answers),
        "latency": _latency(params, project, candidate, table, answers.ok, unknown, common.seed),
        "throughput": {
            "rows": n,
            "seconds": answers.seconds,
            "rows_per_second": n / answers.seconds if answers.seconds else None,
        },
    }
    report["labels"] = _labelled(params, project, task, candidate, table, ids, champion, champ_proba, answers)
    return report


def _slices(params, candidate, table, ok, disagrees) -> list[dict[str, Any]]:
    from mlctl.stages.replay import agreement as ag

    kinds = {s.name: s.kind for s in candidate.inputs}
    columns = (
        params.slices if params.slices is not None else [s.name for s in candidate.inputs if s.kind == "categorical"]
    )
    out = []
    for name in columns:
        if name not in table.column_names:
            out.append({"column": name, "skipped": "not in the log", "groups": []})
            continue
        import pyarrow as pa

        column = table[name]
        numeric = kinds.get(name) == "numeric" or pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        codes, names = ag.slice_codes(column, numeric)
        out.append({"column": name, "groups": ag.by_slice(codes, names, ok, disagrees, params.max_slice_values)})
    return out


def _shift(task, champion, levels, answers, champ_proba, class_keys, th, seed) -> dict[str, Any]:
    from mlctl.stages.replay import agreement as ag

    ok = answers.ok
    if task == "regression":
        found = ag.numeric_shift("prediction", champion[ok], answers.labels[ok], 10, th, seed)
        return {"prediction": found.to_dict(), "scores": []}
    label, shares = ag.label_shift(champion[ok], answers.labels[ok], levels, th)
    scores = []
    if champ_proba is not None and answers.probabilities is not None:
        shown = list(enumerate(class_keys))[-1:] if len(class_keys) == 2 else list(enumerate(class_keys))[:10]
        for j, key in shown:  # two classes: the positive one says it all
            found = ag.numeric_shift(f"proba_{key}", champ_proba[ok, j], answers.probabilities[ok, j], 10, th, seed)
            scores.append(found.to_dict())
    return {"prediction": label.to_dict(), "prediction_shares": shares, "scores": scores}


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _row_inputs(table, inputs: list[str], i: int) -> dict[str, Any]:
    return {name: _plain(table[name][i].as_py()) for name in inputs}


def _top(top, table, inputs, ids, levels, answers, disagrees, gap) -> list[dict[str, Any]]:
    rows = np.flatnonzero(disagrees)
    if not len(rows) or not top:
        return []
    order = rows[np.argsort(-np.nan_to_num(gap[rows], nan=0.0), kind="stable")][:top]
    return [
        {
            "request_id": request_id,
            "champion": _plain(table["prediction"][int(i)].as_py()),
            "candidate": levels[answers.labels[i]] if levels else _plain(answers.labels[i]),
            "difference": _plain(float(gap[i])),
            "inputs": _row_inputs(table, inputs, int(i)),
        }
        for i, request_id in zip(order, ids(order), strict=True)
    ]


def _rejects(top, table, inputs, ids, answers) -> dict[str, Any]:
    """Every logged row was answered by the champion: a row the candidate rejects is a new reject."""
    bad = np.flatnonzero(~answers.ok)
    reasons: dict[str, int] = {}
    for i in bad.tolist():
        for why in answers.reasons.get(i, []):
            reasons[why] = reasons.get(why, 0) + 1
    examples = [
        {
            "request_id": request_id,
            "reasons": answers.reasons.get(int(i), []),
            "inputs": _row_inputs(table, inputs, int(i)),
        }
        for i, request_id in zip(bad[:top], ids(bad[:top]), strict=True)
    ]
    common = dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:20])
    return {"new": len(bad), "reasons": common, "examples": examples}


def _latency(params, project, candidate, table, ok, unknown, seed) -> dict[str, Any]:
    """Single-row run times of the candidate (and the champion's model) on the same logged rows."""
    from mlctl.stages.replay import agreement as ag

    rows = np.flatnonzero(ok)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(rows, min(len(rows), params.latency_rows), replace=False)) if len(rows) else rows
    sample = table.take(pick)
    out: dict[str, Any] = {"rows": len(pick)}
    out["candidate"] = ag.time_rows(candidate, sample, params.latency_rows, unknown) if len(pick) else None
    if "latency_ms" in table.column_names:
        logged = table["latency_ms"].to_numpy(zero_copy_only=False).astype(np.float64)
        out["champion_logged"] = ag.distribution(logged)  # server side, queueing included: context, not a ratio
    out["champion"], out["ratio"], out["ratio_reason"] = None, None, None
    if not params.champion:
        out["ratio_reason"] = "no champion model to time beside the candidate (replay.champion)"
        return out
    champ = _load_champion(project, params.champion)
    out["champion_model"] = {"path": params.champion, "version": champ.version}
    out["champion"] = ag.time_rows(champ, sample, params.latency_rows, unknown) if len(pick) else None
    if out["candidate"] and out["champion"] and out["champion"]["median_ms"] > 0:
        out["ratio"] = out["candidate"]["median_ms"] / out["champion"]["median_ms"]
    else:
        out["ratio_reason"] = "no row both models accept"
    return out


def _load_champion(project: Project, ref: str):
    """The champion's ONNX model: a path (manifest beside it) or a registry reference name@stage."""
    from mlctl.onnxmodel.runtime import OnnxModel

    if "@" in ref:
        from mlctl.repo.registry import materialise

        model_path, manifest = materialise(project.root, ref)
        return OnnxModel.load(Path(model_path), Path(manifest), threads=1, codes=True)
    path = project.path(ref, what="replay.champion")
    return OnnxModel.load(path, path.with_suffix(".json"), threads=1, codes=True)


def _labelled(params, project, task, candidate, table, ids, champion, champ_proba, answers) -> dict[str, Any] | None:
    """Both models' metrics on the rows whose label arrived (joined by request id)."""
    if not params.labels:
        return None
    from mlctl.model.metrics import Scored, compute
    from mlctl.stages.monitor.current import load_labels

    target = candidate.manifest.get("target") or "target"
    labels = load_labels(project.path(params.labels, what="labels"), target)
    import pandas as pd

    joined = pd.Series(ids(), dtype="string").map(labels)
    has = joined.notna().to_numpy() & answers.ok
    rows = np.flatnonzero(has)
    out: dict[str, Any] = {"path": params.labels, "labelled_rows": len(rows)}
    if not len(rows):
        return out
    y_raw = joined.to_numpy()[rows]
    if task == "regression":
        y = y_raw.astype(np.float64)
        cand = Scored(task, y, answers.labels[rows])
        champ = Scored(task, y, champion[rows])
    else:
        classes = list(candidate.classes)
        index = {str(c): i for i, c in enumerate(classes)}
        known = np.array([str(v) in index for v in y_raw])
        rows, y_raw = rows[known], y_raw[known]
        y = np.array([index[str(v)] for v in y_raw], dtype=np.int64)
        cand_pred = answers.labels[rows]  # codes into the candidate's classes
        champ_pred = np.where(champion[rows] < len(classes), champion[rows], -1)  # a label it does not know: wrong
        cand_scores = None if answers.probabilities is None else answers.probabilities[rows]
        champ_scores = None if champ_proba is None else champ_proba[rows]
        cand = Scored(task, y, cand_pred, cand_scores, cand_scores is not None, classes)
        champ = Scored(task, y, champ_pred, champ_scores, champ_scores is not None, classes)
        out["labelled_rows"] = len(rows)
    out["candidate"], _ = compute(cand)
    out["champion"], _ = compute(champ)
    return out
