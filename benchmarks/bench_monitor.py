"""Benchmark `mlctl monitor` on large request logs: 1,000,000 rows × 20 features.

Generates an exported model (logistic regression on 14 numeric + 6 categorical
features), its reference split, and request logs in the `mlctl serve` format
(Parquet files of 100,000 rows under logs/requests/<version>/), then times the library call
``mlctl.stages.monitor.run`` (median of 3) and the command `mlctl monitor` end to end
(a fresh process: start-up, reports written; with its peak RSS) against a baseline
measured in the same run: reading the same logs into pandas with pyarrow, nothing else.
Targets (issue 19): `mlctl monitor` on 1M rows under 10 s; at 10M rows peak RSS about
what it is at 1M (chunked reading, reservoir samples).

    python benchmarks/bench_monitor.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_NUMERIC, N_CATEGORICAL = 14, 6
LEVELS = [f"level{i}" for i in range(8)]


def make_inputs(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Inputs with a learnable binary target; ``shift`` moves the first numeric feature."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i in range(N_NUMERIC):
        data[f"n{i}"] = rng.normal(i % 3, 1 + i % 2, n) + (shift if i == 0 else 0.0)
    for i in range(N_CATEGORICAL):
        data[f"c{i}"] = rng.choice(LEVELS[: 3 + i], n)
    df = pd.DataFrame(data)
    score = df["n0"] - 0.5 * df["n1"] + (df["c0"] == "level1") + rng.normal(0, 1, n)
    df["target"] = np.where(score > score.median(), "yes", "no")
    return df


def build_project(root: Path, rows: int, files: int | None = None) -> None:
    from mlctl.model.estimators import build_pipeline
    from mlctl.model.features import infer_features, to_model_frame
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.params.train import PreprocessParams
    from mlctl.stages.export.convert import write_onnx_model

    train = make_inputs(20_000, 0)
    features = infer_features(train, "target")
    X = to_model_frame(train, features)
    pipe = build_pipeline("logistic_regression", "classification", features, PreprocessParams(), 0).fit(
        X, train["target"]
    )
    write_onnx_model(pipe, features, root / "models", task="classification", target="target", X_train=X)
    (root / "data" / "processed").mkdir(parents=True)
    train.to_parquet(root / "data" / "processed" / "train.parquet", index=False)
    (root / "metrics").mkdir()
    (root / "metrics" / "evaluate.json").write_text(json.dumps({"model": {"roc_auc": 0.85, "accuracy": 0.77}}))
    params = {
        "seed": 0,
        "target": "target",
        "task": "classification",
        "collect": {"sources": [{"name": "d", "path": "data/sources/d.csv"}]},
        "monitor": {"window": "hour"},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))

    # files of 100,000 rows whatever the total, as a long-running service leaves them (at least 10)
    files = files or max(10, rows // 100_000)
    model = OnnxModel.load(root / "models" / "model.onnx")
    folder = root / "logs" / "requests" / model.version
    folder.mkdir(parents=True)
    per_file = rows // files
    start = pd.Timestamp("2025-01-01", tz="UTC")
    for part in range(files):
        df = make_inputs(per_file, 100 + part, shift=0.3 if part >= files // 2 else 0.0)
        Xp = to_model_frame(df, features)
        checked = model.check_columns({n: Xp[n].to_numpy() for n in model.input_names}, len(Xp))
        pred = model.predict_checked(checked)
        logs = df.drop(columns=["target"])
        logs.insert(0, "request_id", [f"{part}-{i}" for i in range(per_file)])
        logs.insert(1, "timestamp", start + pd.to_timedelta(np.arange(per_file) + part * per_file, unit="s"))
        logs.insert(2, "model_version", model.version)
        logs.insert(3, "latency_ms", np.random.default_rng(part).gamma(2.0, 2.0, per_file))
        logs["prediction"] = pred.labels
        for i, c in enumerate(model.classes):
            logs[f"proba_{c}"] = pred.probabilities[:, i]
        logs.to_parquet(folder / f"part-{part:05d}.parquet", index=False)


def time_monitor(root: Path) -> tuple[float, dict]:
    from mlctl.core.errors import DriftDetected
    from mlctl.core.project import Project
    from mlctl.params import load_params
    from mlctl.stages.monitor import run

    params = load_params(root / "params.yaml")
    t0 = time.perf_counter()
    try:
        report = run(params.monitor, params.common, Project(root)).to_dict()
    except DriftDetected as exc:
        report = exc.report
    return time.perf_counter() - t0, report


def time_cli(root: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `mlctl monitor -C root` in a fresh process."""
    import subprocess

    probe = (
        "import resource, subprocess, sys, time\n"
        "t0 = time.perf_counter()\n"
        "subprocess.run([sys.executable, '-m', 'mlctl', 'monitor', '-C', sys.argv[1]], capture_output=True)\n"
        "print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, check=True)
    seconds, rss = out.stdout.split()
    return float(seconds), float(rss)


def time_read(root: Path) -> float:
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    for path in sorted((root / "logs").rglob("*.parquet")):
        pq.read_table(path).to_pandas()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        build_project(root, args.rows)
        print(
            f"generated {args.rows:,} logged rows × {N_NUMERIC + N_CATEGORICAL} features "
            f"in {time.perf_counter() - t0:.1f}s"
        )
        time_monitor(root)  # warm-up: imports, page cache
        runs, reads, clis, peaks = [], [], [], []
        for _ in range(args.repeat):
            seconds, report = time_monitor(root)
            runs.append(seconds)
            reads.append(time_read(root))
            cli, peak = time_cli(root)
            clis.append(cli)
            peaks.append(peak)
        median, read, cli = statistics.median(runs), statistics.median(reads), statistics.median(clis)
        print(f"monitor (library call): median {median:.2f}s of {args.repeat} ({args.rows / median:,.0f} rows/s)")
        print(f"`mlctl monitor` end to end: median {cli:.2f}s, peak RSS {max(peaks):.0f} MiB")
        print(f"baseline (pyarrow read into pandas only): median {read:.2f}s; monitor/read ratio {median / read:.1f}x")
        drifted = [r["feature"] for r in report["drift"]["features"] if r["drifted"]]
        print(
            f"verdict {report['verdict']}, drifted {drifted}, "
            f"windows {len(report['windows'])}, rows {report['current']['rows']:,}"
        )
        target = 10 * args.rows / 1_000_000
        print(f"target `mlctl monitor` < {target:.0f} s on 2 cores →", "OK" if cli < target else "TOO SLOW")


if __name__ == "__main__":
    main()
