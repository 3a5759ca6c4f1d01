"""The gate's measured rules: the model file's size and its single-row predict latency."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import InputNotFoundError
from mlctl.core.progress import NoProgress

if TYPE_CHECKING:
    from mlctl.core.progress import Progress
    from mlctl.core.project import Project
    from mlctl.params.gate import GateParams
    from mlctl.stages.gate.verdict import Rule

MB = 1_000_000  # decimal megabytes, as file managers and cloud quotas count them
WARMUP_CALLS = 3  # the first calls pay for lazy imports and caches, not for the model


def size_rule(params: GateParams, model_file: Path) -> list[Rule]:
    """``max_model_mb``: the size of models/model.skops (`mlctl export` holds the ONNX model to the same limit)."""
    from mlctl.stages.gate.verdict import Rule

    if params.max_model_mb is None:
        return []
    if not model_file.exists():
        raise InputNotFoundError("model file not found", where=str(model_file), hint="run `mlctl train` first")
    size = model_file.stat().st_size / MB
    passed = size <= params.max_model_mb
    detail = f"{model_file.name} is {size:.3f} MB (limit {params.max_model_mb:g} MB)"
    return [Rule("model_size", None, size, params.max_model_mb, passed, detail=detail)]


def single_row_latency_ms(model: Any, X: Any, calls: int, progress: Progress | None = None) -> tuple[float, float]:
    """Median wall and CPU time in ms of ``calls`` one-row ``predict`` calls, cycling through the rows of ``X``.

    The rule judges wall time (what a caller waits); CPU time is reported beside
    it because on a busy machine the wall time also counts waiting for a core.
    """
    progress = progress or NoProgress()
    rows = [X.iloc[[i]] for i in range(min(len(X), calls))]
    for i in range(WARMUP_CALLS):
        model.predict(rows[i % len(rows)])
    progress.start("timing single-row predictions", total=calls)
    wall, cpu = [], []
    for i in range(calls):
        row = rows[i % len(rows)]
        start, start_cpu = time.perf_counter(), time.thread_time()
        model.predict(row)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        progress.advance()
    progress.done()
    return statistics.median(wall), statistics.median(cpu)


def latency_rule(
    params: GateParams, project: Project, model_dir: Path, info: dict[str, Any], progress: Progress | None = None
) -> list[Rule]:
    """``max_latency_ms``: median single-row predict time of the fitted pipeline on test rows."""
    from mlctl.core.fileio import load_skops, read_table
    from mlctl.model.features import Feature, to_model_frame
    from mlctl.stages.gate.verdict import Rule

    if not info.get("features"):
        raise InputNotFoundError(
            "train.json with the feature list not found",
            where=str(model_dir / "train.json"),
            hint="run `mlctl train` first",
        )
    model = load_skops(model_dir / "model.skops")
    data = project.path(params.data, what="gate.data")
    if not data.exists():
        raise InputNotFoundError("rows to time not found", where=project.rel(data), hint="run `mlctl prepare` first")
    features = [Feature(f["name"], f["kind"]) for f in info["features"]]
    X = to_model_frame(read_table(data), features)
    if len(X) == 0:
        return [Rule("latency", None, None, params.max_latency_ms, True, True, f"{project.rel(data)} has no rows")]
    ms, cpu_ms = single_row_latency_ms(model, X, params.latency_calls, progress)
    detail = (
        f"median of {params.latency_calls} single-row predict calls: {ms:.3f} ms wall, {cpu_ms:.3f} ms CPU "
        f"(limit {params.max_latency_ms:g} ms)"
    )
    return [Rule("latency", None, ms, params.max_latency_ms, ms <= params.max_latency_ms, detail=detail)]
