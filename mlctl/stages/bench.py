"""`mlctl bench`: single-row and batch latency and throughput of the exported ONNX model.

Loads models/model.onnx with `OnnxModel.load` (sha256 checked against the
manifest) on ``bench.threads`` onnxruntime threads and times, after warm-up:

* single row: `check_records([record])` + `predict_checked`, what `mlctl serve`
  does per request: median and 95th percentile over ``bench.single`` calls;
* batch: `check_columns` + `predict_checked` on ``bench.rows`` rows: median and
  95th percentile of ``bench.repeat`` calls;
* onnxruntime alone on ready feeds, so mlctl.runtime's validation overhead shows.

Rows come from ``bench.input`` (the test split, repeated) or, when it is absent,
are generated from the manifest's input schema. Writes reports/bench.json, which
`mlctl report` compares with the base branch's copy.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlctl.progress import NoProgress

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.params import Common
    from mlctl.params.bench import BenchParams
    from mlctl.progress import Progress
    from mlctl.project import Project
    from mlctl.runtime import OnnxModel


@dataclass
class BenchResult:
    output: str
    report: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, **self.report}


def rows_for(model: OnnxModel, path, n: int, seed: int) -> tuple[pd.DataFrame, str]:
    """``n`` input rows: the file at ``path`` repeated, else generated from the model's input schema."""
    import numpy as np
    import pandas as pd

    if path is not None and path.exists():
        df = pd.read_parquet(path, columns=[s.name for s in model.inputs])
        if len(df):
            return df.iloc[np.resize(np.arange(len(df)), n)].reset_index(drop=True), str(path.name)
    rng = np.random.default_rng(seed)
    cols = {}
    for spec in model.inputs:
        if spec.kind == "numeric":
            lo = spec.min if spec.min is not None else 0.0
            hi = spec.max if spec.max is not None else lo + 1.0
            cols[spec.name] = rng.uniform(lo, hi, size=n)
        else:
            levels = np.array(list(spec.categories or ("a", "b")), dtype=object)
            cols[spec.name] = rng.choice(levels, size=n)
    return pd.DataFrame(cols), "generated from the manifest's input schema"


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 3, budget: float | None = None) -> list[float]:
    """Seconds per call of ``repeat`` calls after ``warmup`` (fewer if ``budget`` seconds run out)."""
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if budget is not None and time.perf_counter() - start > budget:
            break
    return times


def _ms(values: list[float], q: float | None = None) -> float:
    import numpy as np

    seconds = statistics.median(values) if q is None else float(np.percentile(values, q))
    return round(1000 * seconds, 4)


def run(params: BenchParams, common: Common, project: Project, progress: Progress | None = None) -> BenchResult:
    """Time the exported model and write ``params.output``."""
    import numpy as np
    import onnxruntime

    from mlctl.io import write_json
    from mlctl.runtime import OnnxModel

    progress = progress or NoProgress()
    progress.start("bench", total=3)
    model_path = project.path(params.model, what="model")
    manifest = project.path(params.manifest, what="manifest") if params.manifest else None
    started = time.perf_counter()
    model = OnnxModel.load(model_path, manifest, threads=params.threads)
    load_ms = 1000 * (time.perf_counter() - started)
    frame, source = rows_for(model, project.path(params.input, what="bench input"), params.rows, common.seed)
    head = frame.head(200)
    records = head.astype(object).where(head.notna(), None).to_dict(orient="records")
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    progress.advance()

    counter = iter(range(10**12))
    single = timed(
        lambda: model.predict_checked(model.check_records([records[next(counter) % len(records)]])),
        params.single,
        warmup=20,
        budget=params.budget,
    )
    one = model.check_records([records[0]]).feeds
    single_ort = timed(lambda: model.run(one), len(single), warmup=20)
    progress.advance()
    batch = timed(lambda: model.predict_checked(model.check_columns(columns, len(frame))), params.repeat, warmup=1)
    feeds = model.check_columns(columns, len(frame)).feeds
    batch_ort = timed(lambda: model.run(feeds), params.repeat, warmup=1)
    progress.advance()
    progress.done()
    report = {
        "model": {"file": project.rel(model_path), "sha256": model.sha256, "version": model.version},
        "input": source,
        "threads": params.threads,
        "load_ms": round(load_ms, 3),
        "single_row": {
            "calls": len(single),
            "p50_ms": _ms(single),
            "p95_ms": _ms(single, 95),
            "rows_per_s": round(len(single) / sum(single), 1),
            "onnxruntime_only_p50_ms": _ms(single_ort),
        },
        "batch": {
            "rows": len(frame),
            "runs": len(batch),
            "median_ms": _ms(batch),
            "p95_ms": _ms(batch, 95),
            "rows_per_s": round(len(frame) / statistics.median(batch), 1),
            "onnxruntime_only_median_ms": _ms(batch_ort),
        },
        "environment": {
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }
    output = project.path(params.output, what="bench output")
    write_json(output, report)
    return BenchResult(project.rel(output), report)
