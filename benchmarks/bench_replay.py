"""Benchmark shadow serving and `mlctl replay` (issue #16).

1. Shadow on vs off: the same service with the request log on, without (twice: the second, "control",
   measures the noise between two servers) and with a shadow model
   (`serve --shadow`), single-row /predict at concurrency 8; requests/s and p99 (medians of --runs
   runs, fresh server processes every run, the two services taking turns, the load from another
   process: bench_serve's load generator). Target: the shadow costs <= 10% of throughput and leaves
   p99 within noise.
2. `mlctl replay` of --rows logged rows (a request log written in the request-log schema) against
   `mlctl predict` on the same rows (the feature columns as one Parquet file), both end to end
   through the command line, the same candidate model; medians of --replay-runs. Target: < 2x.

    python benchmarks/bench_replay.py [--seconds 2] [--runs 5] [--rows 1000000] [--replay-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))  # conftest imports the workflow fixtures by their bare name

import bench_serve as bs  # noqa: E402  (the load generator, ports, readiness and CPU time of bench_serve)

LABELS = {"logging": "/predict, log on", "control": "/predict, log on (again)", "shadow": "/predict, log on + shadow"}


def run_server(kind: str, port: int, model_dir: str) -> None:
    import uvicorn

    from mlctl.serve import ServeConfig, create_app

    shadow = {}
    if kind == "shadow":
        shadow = {
            "shadow_model_path": f"{model_dir}/shadow/model.onnx",
            "shadow_manifest_path": f"{model_dir}/shadow/model.json",
        }
    config = ServeConfig(
        model_path=f"{model_dir}/model.onnx",
        manifest_path=f"{model_dir}/model.json",
        log_dir=str(Path(model_dir) / "logs" / str(port)),
        **shadow,
    )
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, **bs.STACK)


def launch(kind: str, model_dir: Path) -> tuple[subprocess.Popen, int]:
    port = bs.free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, __file__, "--serve", kind, str(port), str(model_dir)], env=env), port


def shadow_bench(args: argparse.Namespace, tmp: Path, body: bytes) -> None:
    kinds = ["logging", "control", "shadow"]  # control: the baseline again, the noise between two servers
    results: dict = {k: [] for k in kinds}
    for run in range(args.runs):
        servers = {k: launch(k, tmp) for k in kinds}
        try:
            for kind, (proc, port) in servers.items():
                bs.wait_ready(kind, proc, port)
            for _, port in servers.values():
                bs.load(port, "/predict", body, 8, 1, tmp)  # warm-up
            order = kinds[run % 3 :] + kinds[: run % 3]  # each takes each turn
            for kind in order:
                proc, port = servers[kind]
                cpu = bs.cpu_seconds(proc.pid)
                r = bs.load(port, "/predict", body, 8, args.seconds, tmp)
                assert r["errors"] == 0, f"{kind}: {r['errors']} non-2xx responses"
                r["cpu_us"] = (bs.cpu_seconds(proc.pid) - cpu) / (r["rps"] * args.seconds) * 1e6
                results[kind].append(r)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
            for proc, _ in servers.values():
                proc.wait(timeout=30)
    print(f"{'server':<28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu us/req':>10}   (concurrency 8)")
    for kind in kinds:
        med = {m: statistics.median(r[m] for r in results[kind]) for m in ("rps", "p50_ms", "p99_ms", "cpu_us")}
        print(
            f"{LABELS[kind]:<28} {med['rps']:>9.0f} {med['p50_ms']:>8.2f} {med['p99_ms']:>8.2f} {med['cpu_us']:>10.0f}"
        )
    for kind, what in (("control", "noise (same server again)"), ("shadow", "shadow cost")):
        pairs = list(zip(results[kind], results["logging"], strict=True))
        costs = sorted(1 - s["rps"] / b["rps"] for s, b in pairs)
        p99 = sorted(s["p99_ms"] / b["p99_ms"] for s, b in pairs)
        print(
            f"{what}: {statistics.median(costs):+.1%} of throughput (per run {costs[0]:+.0%} to {costs[-1]:+.0%}); "
            f"p99 ratio {statistics.median(p99):.2f} (per run {p99[0]:.2f} to {p99[-1]:.2f})"
        )


def write_log(built: dict, folder: Path, features: Path, rows: int) -> None:
    """``rows`` rows in the request-log schema (champion answers from the model) + the same features alone."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlctl.onnxmodel.runtime import OnnxModel
    from tests.conftest import make_frame

    model = OnnxModel.load(built["model"], built["manifest_path"])
    names = model.input_names
    kinds = {s.name: s.kind for s in model.inputs}
    version = model.version
    folder.mkdir(parents=True)
    per_file = 100_000
    writer = None
    for start in range(0, rows, per_file):
        n = min(per_file, rows - start)
        df = make_frame("classification", n=n, seed=start).drop(columns=["signup", "target"])
        pred = model.predict_checked(model.check_columns({c: df[c].to_numpy() for c in names}, n))
        table = pa.table(
            {
                "request_id": pa.array([f"r{start + i}" for i in range(n)]),
                "timestamp": pa.array(
                    pd.Timestamp.now(tz="UTC").value // 1000 + np.arange(n), pa.timestamp("us", tz="UTC")
                ),
                "model_version": pa.array([version] * n),
                "role": pa.array(["champion"] * n),
                "endpoint": pa.array(["/predict"] * n),
                "latency_ms": pa.array(np.full(n, 1.0)),
                **{c: _logged(df[c], kinds[c]) for c in names},
                "prediction": pa.array([str(v) for v in pred.labels]),
                **{f"proba_{k}": pa.array(pred.probabilities[:, j]) for j, k in enumerate(model.classes)},
            }
        )
        # row groups of 10,000 rows: `mlctl serve` writes one per flush (a second of traffic)
        pq.write_table(table, folder / f"part-{start:09d}.parquet", row_group_size=10_000)
        plain = table.select(names)
        if writer is None:
            writer = pq.ParquetWriter(features, plain.schema)
        writer.write_table(plain)
    writer.close()


def _logged(values, kind: str):
    """A feature column as the request log holds it: float64 for numbers, str (null when missing) for categories."""
    import pyarrow as pa

    if kind == "numeric":
        return pa.array(values.astype("float64"), from_pandas=True)
    return pa.array(values.astype(object).where(values.notna(), None), pa.string())


def timed(cmd: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return seconds


def replay_bench(args: argparse.Namespace, tmp: Path, champion: dict, candidate: dict) -> None:
    import yaml

    project = tmp / "project"
    project.mkdir()
    (project / "params.yaml").write_text(
        yaml.safe_dump({"target": "target", "collect": {"sources": [{"name": "d", "path": "d.csv"}]}})
    )
    began = time.perf_counter()
    write_log(champion, project / "logs", project / "features.parquet", args.rows)
    print(f"wrote {args.rows} logged rows in {time.perf_counter() - began:.1f} s")
    model = str(candidate["model"])
    mlctl = [sys.executable, "-m", "mlctl"]
    replay = [*mlctl, "replay", "logs", "--model", model]
    predict = [*mlctl, "predict", "features.parquet", "out.parquet", "--model", model]
    times: dict[str, list[float]] = {"replay": [], "predict": []}
    for run in range(args.replay_runs):
        for name, cmd in (
            (("replay", replay), ("predict", predict)) if run % 2 == 0 else (("predict", predict), ("replay", replay))
        ):
            times[name].append(timed(cmd, project))
    r, p = statistics.median(times["replay"]), statistics.median(times["predict"])
    report = json.loads((project / "reports" / "replay.json").read_text())
    print(f"mlctl replay  {args.rows} rows: {r:.2f} s (runs {', '.join(f'{t:.2f}' for t in times['replay'])})")
    print(f"mlctl predict {args.rows} rows: {p:.2f} s (runs {', '.join(f'{t:.2f}' for t in times['predict'])})")
    print(f"replay / predict = {r / p:.2f}x; disagreement {report['agreement']['disagreement']:.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--replay-runs", type=int, default=3)
    parser.add_argument("--skip-shadow", action="store_true")
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve[0], int(args.serve[1]), args.serve[2])
        return

    from tests.serve_helpers import build_model, records

    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    try:
        champion = build_model(tmp, "classification")
        candidate = build_model(tmp / "shadow", "classification", "logistic_regression", seed=1)
        body = json.dumps({"instances": records(champion["frame"], slice(0, 1))}).encode()
        print(f"{os.cpu_count()} cores; champion random forest, shadow/candidate logistic regression")
        if not args.skip_shadow:
            shadow_bench(args, tmp, body)
        if not args.skip_replay:
            replay_bench(args, tmp, champion, candidate)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
