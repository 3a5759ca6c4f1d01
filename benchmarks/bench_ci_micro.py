"""CI micro-benchmark of the exported model: single-row and 10k-row scoring through mlctl.onnxmodel.runtime.

    python benchmarks/bench_ci_micro.py                      # the project in the working directory
    python benchmarks/bench_ci_micro.py -C path/to/project --rows 10000 --single 300

Loads models/model.onnx with `OnnxModel.load` (sha256 checked against
models/model.json) on one onnxruntime thread (stable numbers on a shared
runner), and times, after warm-up calls:

* single row: `check_records([record])` + `predict_checked` — what `mlctl serve`
  does per request — median and 95th percentile over --single calls;
* batch: `check_columns` + `predict_checked` on --rows rows, median of --repeat runs;
* the baseline in the same run: `OnnxModel.run` on ready feeds (onnxruntime alone),
  so the ratio printed is mlctl.onnxmodel.runtime's validation overhead.

Rows come from the test split (data/processed/test.parquet, repeated up to
--rows) or, when it is absent, are generated from the manifest's input schema.
Writes metrics/perf.json, which `mlctl report` compares with the base revision's.
Finishes in well under 20 s (--budget bounds the single-row loop).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rows_for(model, project: Path, n: int, seed: int):
    """``n`` input rows as columns: the test split repeated, else generated from the input schema."""
    import numpy as np
    import pandas as pd

    test = project / "data/processed/test.parquet"
    if test.exists():
        df = pd.read_parquet(test, columns=[s.name for s in model.inputs])
        if len(df):
            df = df.iloc[np.resize(np.arange(len(df)), n)].reset_index(drop=True)
            return df, str(test.relative_to(project))
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


def timed(fn, repeat: int, warmup: int = 3, budget: float | None = None) -> list[float]:
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


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-C", "--project", default=".", help="project directory (default: .)")
    ap.add_argument("--model", default="models/model.onnx")
    ap.add_argument("--manifest", default=None, help="default: the model's .json beside it")
    ap.add_argument("--output", default="metrics/perf.json")
    ap.add_argument("--rows", type=int, default=10_000, help="rows in the batch measurement")
    ap.add_argument("--single", type=int, default=300, help="single-row calls")
    ap.add_argument("--repeat", type=int, default=5, help="batch runs")
    ap.add_argument("--budget", type=float, default=6.0, help="seconds at most for the single-row loop")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (0: all cores)")
    args = ap.parse_args(argv)

    import numpy as np
    import onnxruntime

    from mlctl.core.errors import MlctlError
    from mlctl.core.fileio import write_json
    from mlctl.onnxmodel.runtime import OnnxModel

    project = Path(args.project).resolve()
    try:
        t = time.perf_counter()
        model = OnnxModel.load(
            project / args.model, project / args.manifest if args.manifest else None, threads=args.threads
        )
        load_ms = 1000 * (time.perf_counter() - t)
    except MlctlError as exc:
        print(f"bench_ci_micro: {exc}", file=sys.stderr)
        return exc.exit_code
    frame, source = rows_for(model, project, args.rows, seed=0)
    records = frame.head(200).astype(object).where(frame.head(200).notna(), None).to_dict(orient="records")
    columns = {c: frame[c].to_numpy() for c in frame.columns}

    i = iter(range(10**9))
    single = timed(
        lambda: model.predict_checked(model.check_records([records[next(i) % len(records)]])),
        args.single,
        warmup=20,
        budget=args.budget,
    )
    one_feeds = model.check_records([records[0]]).feeds
    single_run = timed(lambda: model.run(one_feeds), len(single), warmup=20)
    batch = timed(lambda: model.predict_checked(model.check_columns(columns, len(frame))), args.repeat, warmup=1)
    feeds = model.check_columns(columns, len(frame)).feeds
    batch_run = timed(lambda: model.run(feeds), args.repeat, warmup=1)

    p50, p95 = 1000 * statistics.median(single), 1000 * percentile(single, 95)
    run50 = 1000 * statistics.median(single_run)
    b50, brun = 1000 * statistics.median(batch), 1000 * statistics.median(batch_run)
    perf = {
        "model": {"file": args.model, "sha256": model.sha256, "version": model.version},
        "input": source,
        "threads": args.threads,
        "load_ms": round(load_ms, 3),
        "single_row": {
            "calls": len(single),
            "p50_ms": round(p50, 4),
            "p95_ms": round(p95, 4),
            "rows_per_s": round(len(single) / sum(single), 1),
            "onnxruntime_only_p50_ms": round(run50, 4),
        },
        "batch": {
            "rows": len(frame),
            "runs": len(batch),
            "median_ms": round(b50, 3),
            "rows_per_s": round(len(frame) / (b50 / 1000), 1),
            "onnxruntime_only_median_ms": round(brun, 3),
        },
        "environment": {
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }
    write_json(project / args.output, perf)
    print(
        f"model {args.model} ({model.sha256[:12]}), rows from {source}, {args.threads} thread(s), load {load_ms:.1f} ms"
    )
    print(
        f"single row : p50 {p50:.3f} ms, p95 {p95:.3f} ms over {len(single)} calls "
        f"(onnxruntime alone {run50:.3f} ms; mlctl.onnxmodel.runtime/onnxruntime {p50 / run50:.2f}x)"
    )
    print(
        f"{len(frame):,} rows : median {b50:.1f} ms = {len(frame) / (b50 / 1000):,.0f} rows/s "
        f"(onnxruntime alone {brun:.1f} ms; ratio {b50 / brun:.2f}x)"
    )
    print(f"→ {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
