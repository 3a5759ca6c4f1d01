"""`retrain`: append newly labelled data, re-run the pipeline, commit the candidate on a branch.

The gate inside the pipeline compares the candidate with the champion; the
result (accepted or rejected) is committed on a new branch so CI can open a
pull request that shows what changed.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.errors import ConfigError, DataError, ExternalError, GateRejectedError, InputNotFoundError
from mlctl.progress import NoProgress

if TYPE_CHECKING:
    from mlctl.params.collect import CollectParams, Source
    from mlctl.params.retrain import RetrainParams
    from mlctl.progress import Progress
    from mlctl.project import Project

TRIGGERS = ("manual", "schedule", "new-data", "drift")
FILE_KINDS = ("csv", "parquet", "jsonl")


@dataclass
class RetrainResult:
    """What `mlctl retrain` did."""

    trigger: str
    branch: str | None = None
    commit: str | None = None
    changed: bool = False  # the pipeline's results differ from HEAD's: a commit was made on ``branch``
    skipped: str | None = None  # why nothing was done (or committed)
    source: str | None = None
    appended_rows: int = 0
    rows_before: int | None = None
    rows_after: int | None = None
    metrics_before: dict[str, Any] = field(default_factory=dict)
    metrics_after: dict[str, Any] = field(default_factory=dict)
    gate_passed: bool | None = None
    gate_failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def metric_changes(self) -> list[tuple[str, Any, Any]]:
        """(metric, before, after) for every metric of the model."""
        names = sorted(set(self.metrics_before) | set(self.metrics_after))
        return [(n, self.metrics_before.get(n), self.metrics_after.get(n)) for n in names]


def _git(root: Path, *args: str, strip: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ExternalError(f"git {args[0]} failed: {proc.stderr.strip()}", where=str(root))
    return proc.stdout.strip() if strip else proc.stdout


def _read_json(path: Path) -> dict:
    from mlctl.io import read_json

    return read_json(path) if path.exists() else {}


def target_source(collect: CollectParams, name: str | None) -> Source:
    """The file source new data is appended to."""
    files = [s for s in collect.sources if s.kind in FILE_KINDS and s.path and not any(c in s.path for c in "*?[")]
    if name:
        match = [s for s in collect.sources if s.name == name]
        if not match:
            raise ConfigError(f"no collect source named {name!r}", where="params.yaml: retrain.source")
        if match[0] not in files:
            raise ConfigError(f"source {name!r} is not a single file; new data can only be appended to a file")
        return match[0]
    if not files:
        raise ConfigError("no file source to append new data to", hint="add a CSV/Parquet/JSON-lines source to collect")
    return files[0]


def append_rows(project: Project, source: Source, new_path: Path) -> int:
    """Append the rows of ``new_path`` to the source file (same columns), atomically."""
    import pandas as pd

    from mlctl.io import read_table, write_table

    path = project.path(source.path or "", what="source path")
    new = read_table(new_path)
    if new.empty:
        raise DataError("the new data has no rows", where=str(new_path))
    old = read_table(path)
    if set(new.columns) != set(old.columns):
        missing, extra = sorted(set(old.columns) - set(new.columns)), sorted(set(new.columns) - set(old.columns))
        raise DataError(
            f"new data columns differ from source {source.name!r}: missing {missing}, extra {extra}",
            where=str(new_path),
        )
    write_table(pd.concat([old, new[old.columns]], ignore_index=True), path)
    if path.with_name(path.name + ".dvc").exists():  # DVC-tracked source: record the new version
        from mlctl.pipeline import dvc_executable

        proc = subprocess.run([*dvc_executable(), "add", str(path)], cwd=project.root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ExternalError(f"dvc add failed: {proc.stderr.strip()}", where=str(path))
    return len(new)


def run(
    params: RetrainParams,
    collect: CollectParams,
    project: Project,
    *,
    data: Path | None = None,
    trigger: str = "manual",
    branch: str | None = None,
    if_advised: bool = False,
    progress: Progress | None = None,
) -> RetrainResult:
    """Append data (optional), run the pipeline, commit the candidate on a branch."""
    from mlctl.pipeline import run_pipeline

    if trigger not in TRIGGERS:
        raise ConfigError(f"unknown trigger {trigger!r}", hint=f"use one of {', '.join(TRIGGERS)}")
    result = RetrainResult(trigger=trigger)
    root = project.root
    if if_advised:
        report = project.path(params.monitor_report)
        if not report.exists():
            raise InputNotFoundError("no monitoring report", where=str(report), hint="run `mlctl monitor` first")
        if not _read_json(report).get("retrain_advised"):
            result.skipped = "monitoring found no drift or decay: retraining not advised"
            return result
    if data is not None and not Path(data).exists():
        raise InputNotFoundError("new data file not found", where=str(data))
    monitor_prefix = str(Path(params.monitor_report).with_suffix(""))  # reports/monitor.{json,md,html} may be new
    dirty = [
        line[3:]
        for line in _git(root, "status", "--porcelain", "--untracked-files=no", strip=False).splitlines()
        if not line[3:].startswith(monitor_prefix)
    ]
    if dirty:
        raise ConfigError(
            f"the git work tree has uncommitted changes ({', '.join(dirty[:5])})",
            hint="commit or stash them before retraining",
        )
    result.metrics_before = _read_json(root / "metrics" / "evaluate.json").get("model", {})
    result.rows_before = _read_json(root / "data" / "raw" / "manifest.json").get("rows")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    result.branch = branch or f"{params.branch_prefix}/{stamp}"
    _check_branch_name(root, result.branch)
    if data is not None:
        source = target_source(collect, params.source)
        result.source = source.name
        result.appended_rows = append_rows(project, source, Path(data))
    try:
        run_pipeline(project, [], progress=progress or NoProgress())
        result.gate_passed = True
    except GateRejectedError:
        result.gate_passed = False
    gate = _read_json(root / "reports" / "gate.json")
    result.gate_failures = [str(r.get("rule")) for r in gate.get("rules", []) if r.get("passed") is False]
    result.metrics_after = _read_json(root / "metrics" / "evaluate.json").get("model", {})
    result.rows_after = _read_json(root / "data" / "raw" / "manifest.json").get("rows")
    _stage(root)
    result.changed = _pipeline_changed(root)
    if not result.changed:
        _git(root, "reset", "-q")  # leave the work tree as the pipeline left it, nothing staged
        result.skipped = "nothing changed: the pipeline's data, models and metrics equal HEAD's (no commit)"
        return result
    # the branch starts at HEAD with the pipeline's changes carried over; -B: a fixed branch is reset, so
    # one CT branch (and its one pull request) holds the latest candidate
    _git(root, "checkout", "-q", "-B", result.branch)
    result.commit = _commit(root, result)
    return result


def _check_branch_name(root: Path, branch: str) -> None:
    proc = subprocess.run(["git", "check-ref-format", "--branch", branch], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfigError(f"not a valid branch name: {branch!r}", where="--branch")


def _stage(root: Path) -> None:
    """Stage what the pipeline changed: tracked files, small outputs, DVC pointers (DVC-tracked data is ignored)."""
    _git(root, "add", "-u")
    extras = [p for p in ("dvc.lock", "metrics", "reports", "plots", "models", "data") if (root / p).exists()]
    if extras:
        _git(root, "add", "--", *extras)


def _pipeline_changed(root: Path) -> bool:
    """True when dvc.lock or a DVC pointer (*.dvc) differs from HEAD: new data, a new model, new metrics.

    Reports written outside the pipeline (the monitor's) ride along in a commit but do not make one.
    """
    proc = subprocess.run(
        ["git", "diff", "--cached", "--quiet", "--", "dvc.lock", "*.dvc", ":(glob)**/*.dvc"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 1):
        raise ExternalError(f"git diff failed: {proc.stderr.strip()}", where=str(root))
    return proc.returncode == 1


def _commit(root: Path, result: RetrainResult) -> str:
    """Commit what was staged on the candidate branch."""
    verdict = "accepted" if result.gate_passed else "rejected by the gate"
    message = (
        f"retrain ({result.trigger}): candidate {verdict}\n\n"
        f"rows: {result.rows_before} -> {result.rows_after} (+{result.appended_rows} appended)\n"
        + "".join(f"{m}: {b} -> {a}\n" for m, b, a in result.metric_changes())
    )
    _git(root, "commit", "-q", "-m", message)
    return _git(root, "rev-parse", "HEAD")
