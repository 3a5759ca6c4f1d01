"""Benchmark `mlctl predict` against the floor: read + one onnxruntime call per chunk + write.

    python benchmarks/bench_predict.py                 # 1,000,000 and 10,000,000 rows
    python benchmarks/bench_predict.py --rows 1000000 --repeat 3

Data (six mixed-type features with missing values) and a logistic-regression
model are generated once into --cache-dir. Every measurement runs in its own
subprocess so its peak memory (max RSS, from os.wait4) is its own; its clock
starts once the libraries are imported (that start-up is printed on its own). Printed per
size and format: median rows/s of the floor and of mlctl, their ratio, and peak
memory; then the targets: Parquet→Parquet ≥ 60% of the floor, CSV→CSV ≥ 1M rows/s,
peak memory on the largest size ≤ 1.5x that on the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHUNK = 100_000


def generate_frame(n: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    count = rng.integers(0, 20, size=n)
    flag = rng.random(n) < 0.3
    colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), size=n)
    region = rng.choice(np.array(["north", "south", "east", "west"], dtype=object), size=n)
    score = 1.5 * x1 + 0.3 * x2 + flag + (colour == "red") + rng.normal(0, 0.5, n)
    df = pd.DataFrame({"id": np.arange(n), "x1": x1, "x2": x2, "count": count, "flag": flag})
    df["colour"], df["region"] = colour, region
    df.loc[rng.random(n) < 0.05, "x2"] = np.nan
    df.loc[rng.random(n) < 0.05, "colour"] = None
    return df, np.where(score > np.median(score), "yes", "no")


def prepare(cache: Path, sizes: list[int]) -> Path:
    """A project with an exported logistic regression and input files of each size (made once)."""
    root = cache / "project"
    if not (root / "models/model.json").exists():
        sys.path.insert(0, str(REPO))
        from mlctl.model.estimators import build_pipeline
        from mlctl.model.features import infer_features, to_model_frame
        from mlctl.params.train import PreprocessParams
        from mlctl.stages.export.convert import write_onnx_model

        df, y = generate_frame(5000, 0)
        X_raw = df.drop(columns=["id"])
        features = infer_features(X_raw, "target")
        X = to_model_frame(X_raw, features)
        pipe = build_pipeline("logistic_regression", "classification", features, PreprocessParams(), 0).fit(X, y)
        write_onnx_model(pipe, features, root / "models", task="classification", target="target", X_train=X)
        (root / "params.yaml").write_text("target: target\ncollect: {sources: [{name: d, path: d.csv}]}\n")
    for n in sizes:
        _write_inputs(root / "data", n)
    return root


def _write_inputs(data_dir: Path, n: int) -> None:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    pq_path, csv_path = data_dir / f"in-{n}.parquet", data_dir / f"in-{n}.csv"
    if pq_path.exists() and csv_path.exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"generating {n:,} rows into {data_dir} ...", flush=True)
    step = 1_000_000
    pq_writer = csv_writer = None
    for start in range(0, n, step):
        df, _ = generate_frame(min(step, n - start), start)
        df["id"] += start
        table = pa.Table.from_pandas(df, preserve_index=False)
        pq_writer = pq_writer or pq.ParquetWriter(pq_path, table.schema)
        csv_writer = csv_writer or pcsv.CSVWriter(csv_path, table.schema)
        pq_writer.write_table(table, row_group_size=CHUNK)
        csv_writer.write_table(table)
    pq_writer.close()
    csv_writer.close()


# -- children: one measured job each ----------------------------------------------------


def import_libraries(kind: str) -> None:
    """What a child imports before its clock starts (the same libraries for both, plus mlctl's own)."""
    import numpy  # noqa: F401
    import onnxruntime  # noqa: F401
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401

    if kind == "mlctl":
        sys.path.insert(0, str(REPO))
        import mlctl.params
        import mlctl.stages.predict  # noqa: F401


def child_mlctl(root: Path, src: Path, dst: Path) -> int:
    from mlctl.core.project import Project
    from mlctl.params import load_params
    from mlctl.stages.predict import run

    params = load_params(root / "params.yaml")
    section = params.predict.model_copy(
        update={"input": str(src), "output": str(dst), "passthrough": ["id"], "chunk_rows": CHUNK}
    )
    return run(section, params.common, Project(root)).rows_in


def child_floor(root: Path, src: Path, dst: Path) -> int:
    """No validation: read the features, one session.run per chunk, write id + predictions."""
    import numpy as np
    import onnxruntime as ort
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    manifest = json.loads((root / "models/model.json").read_text())
    session = ort.InferenceSession(str(root / "models/model.onnx"), providers=["CPUExecutionProvider"])
    inputs = manifest["inputs"]
    columns = ["id", *(i["name"] for i in inputs)]
    if src.suffix == ".parquet":
        # pre_buffer=False as in mlctl: pyarrow's default read-ahead grows memory with the file
        batches = pq.ParquetFile(src, pre_buffer=False).iter_batches(batch_size=CHUNK, columns=columns)
    else:
        batches = pcsv.open_csv(src, read_options=pcsv.ReadOptions(block_size=CHUNK * 64))
    writer, rows = None, 0
    for batch in batches:
        feeds = {}
        for spec in inputs:
            col = batch.column(spec["name"])
            if spec["kind"] == "numeric":
                feeds[spec["name"]] = col.cast(pa.float32()).to_numpy(zero_copy_only=False).reshape(-1, 1)
            else:
                feeds[spec["name"]] = col.fill_null("").to_numpy(zero_copy_only=False).reshape(-1, 1)
        labels, proba = session.run(None, feeds)
        out = pa.table(
            {"id": batch.column("id"), "prediction": labels}
            | {f"proba_{c}": np.ascontiguousarray(proba[:, j]) for j, c in enumerate(manifest["classes"])}
        )
        if writer is None:
            if dst.suffix == ".parquet":  # the same writer settings as mlctl's (dictionary for text only)
                writer = pq.ParquetWriter(dst, out.schema, use_dictionary=["prediction"])
            else:
                writer = pcsv.CSVWriter(dst, out.schema)
        writer.write_table(out)
        rows += batch.num_rows
    writer.close()
    return rows


def measure(kind: str, root: Path, src: Path, dst: Path) -> dict:
    """Run one child; return its rows/s and peak RSS (MiB)."""
    cmd = [sys.executable, __file__, "--child", kind, "--root", str(root), "--src", str(src), "--dst", str(dst)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed on {src}")
    r = json.loads(out.strip().splitlines()[-1])
    return {
        "rows_per_s": r["rows"] / r["seconds"],
        "end_to_end": r["rows"] / (r["startup"] + r["seconds"]),
        "startup": r["startup"],
        "rss_mib": usage.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median); 1 above 2M rows")
    parser.add_argument("--formats", nargs="+", choices=["parquet", "csv"], default=["parquet", "csv"])
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "mlctl-bench-predict")
    parser.add_argument("--child", choices=["mlctl", "floor", "prepare"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dst", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "prepare":
        prepare(args.cache_dir, sorted(args.rows))
        return
    if args.child:
        start = time.perf_counter()
        import_libraries(args.child)
        job = time.perf_counter()
        rows = (child_mlctl if args.child == "mlctl" else child_floor)(args.root, args.src, args.dst)
        print(json.dumps({"rows": rows, "startup": job - start, "seconds": time.perf_counter() - job}))
        return

    sizes = sorted(args.rows)
    # generated in a child: a forked child inherits its parent's peak RSS, so the
    # parent must stay small for the children's max RSS to be their own
    cmd = [sys.executable, __file__, "--child", "prepare", "--cache-dir", str(args.cache_dir), "--rows"]
    subprocess.run([*cmd, *map(str, sizes)], check=True)
    root = args.cache_dir / "project"
    out_dir = Path(tempfile.mkdtemp(prefix="bench-out-", dir=root))
    results: dict = {}
    print(
        f"{'rows':>12} {'format':>8} {'floor rows/s':>14} {'mlctl rows/s':>14} {'ratio':>6} "
        f"{'mlctl e2e rows/s':>17} {'start-up s':>10} {'floor MiB':>10} {'mlctl MiB':>10}"
    )
    for n in sizes:
        repeat = args.repeat if n <= 2_000_000 else 1
        for fmt in args.formats:
            src = root / "data" / f"in-{n}.{fmt}"
            runs: dict[str, list[dict]] = {"floor": [], "mlctl": []}
            for _ in range(repeat):
                for kind in ("floor", "mlctl"):  # interleaved: both see the same machine load
                    runs[kind].append(measure(kind, root, src, out_dir / f"{kind}.{fmt}"))
            med = {k: statistics.median(r["rows_per_s"] for r in v) for k, v in runs.items()}
            e2e = statistics.median(r["end_to_end"] for r in runs["mlctl"])
            startup = statistics.median(r["startup"] for r in runs["mlctl"])
            rss = {k: max(r["rss_mib"] for r in v) for k, v in runs.items()}
            results[(n, fmt)] = {"rows_per_s": med, "rss": rss}
            print(
                f"{n:>12,} {fmt:>8} {med['floor']:>14,.0f} {med['mlctl']:>14,.0f} "
                f"{med['mlctl'] / med['floor']:>6.2f} {e2e:>17,.0f} {startup:>10.2f} "
                f"{rss['floor']:>10.0f} {rss['mlctl']:>10.0f}",
                flush=True,
            )
    print("\nrows/s: the job, from after the libraries are imported (start-up, in its own column, is")
    print("interpreter start and imports: the same for 10 rows as for 10 million); e2e includes it.")
    report_targets(results, sizes, args.formats)


def report_targets(results: dict, sizes: list[int], formats: list[str]) -> None:
    """The issue's targets, each over every size measured."""
    if "parquet" in formats:
        ratio = min(
            r["rows_per_s"]["mlctl"] / r["rows_per_s"]["floor"] for (_, f), r in results.items() if f == "parquet"
        )
        print(f"target Parquet→Parquet ≥ 0.60 of floor: {ratio:.2f} {'OK' if ratio >= 0.6 else 'MISSED'}")
    if "csv" in formats:
        rate = min(r["rows_per_s"]["mlctl"] for (_, f), r in results.items() if f == "csv")
        print(f"target CSV→CSV ≥ 1,000,000 rows/s: {rate:,.0f} {'OK' if rate >= 1e6 else 'MISSED'}")
    big, small = sizes[-1], sizes[0]
    if big != small:
        for fmt in formats:
            growth = results[(big, fmt)]["rss"]["mlctl"] / results[(small, fmt)]["rss"]["mlctl"]
            print(
                f"target peak memory {fmt} {big:,} vs {small:,} rows ≤ 1.5x: {growth:.2f}x "
                f"{'OK' if growth <= 1.5 else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
