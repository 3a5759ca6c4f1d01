"""Benchmark: `mlctl init` + the whole pipeline on generated data, per stage, beside the bare libraries.

Generated data: 12 columns (8 numeric, 2 categorical, a date, a binary target), 2% of
every feature missing. For each size: `mlctl init` in a temporary directory, then the
pipeline (`dvc repro`, what `mlctl run` runs) with every stage's command wrapped so
its wall time and peak RSS are recorded; then the same work done directly with the
libraries in the same run, each in its own process (benchmarks/direct_steps.py): the
stage's core calls (pandas/pyarrow read and write, the chosen estimator's one fit,
skl2onnx convert, onnxruntime scoring) and everything the stage computes and writes
(metrics, intervals, importances, refits, EDA figures, parity...) at the stage's own
sizes, giving mlctl's overhead per stage against both. Train is reported twice: the whole stage
(search + refit) and the stage minus its search against one direct fit.

`--compare` also runs the 100k set with the defaults `mlctl init` wrote before issue 19
(logistic regression + a random forest of unbounded depth, 4 random draws x 3 folds)
and compares its total time and primary metric with the size-aware default's.

    python benchmarks/bench_pipeline.py                       # 100k and 1M rows
    python benchmarks/bench_pipeline.py --rows 10000000       # 10M on request
    python benchmarks/bench_pipeline.py --rows 100000 --compare --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
TARGET = "churned"
SEED = 7
GIB = 1024**3
# The defaults `mlctl init` wrote before issue 19, for --compare.
OLD_TRAIN = {
    "candidates": ["logistic_regression", "random_forest"],
    "spaces": {
        "logistic_regression": {"C": [0.1, 1.0, 10.0]},
        "random_forest": {"n_estimators": [50, 100], "max_depth": [4, 8, None], "min_samples_leaf": [1, 5]},
    },
    "search": {"method": "random", "n_iter": 4, "cv": 3, "n_jobs": -1, "budget_s": None},
}


def generate(n: int, path: Path, seed: int = SEED) -> Path:
    """The 12-column frame as Parquet, built in chunks of 1M rows so 10M rows need little memory."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    plans = np.array(["basic", "plus", "pro", "team", "enterprise"])
    effect = np.array([-0.5, 0.0, 0.3, 0.5, 0.8])
    regions = np.array([f"region_{i:02d}" for i in range(12)])
    writer = None
    for start in range(0, n, 1_000_000):
        m = min(1_000_000, n - start)
        rng = np.random.default_rng([seed, start])
        x = rng.normal(size=(m, 8))
        plan = rng.choice(5, m, p=[0.4, 0.25, 0.15, 0.12, 0.08])
        region = rng.integers(0, 12, m)
        z = (
            x[:, 0]
            - 0.8 * x[:, 1]
            + 0.6 * x[:, 2] * x[:, 3]
            + 0.5 * np.sin(2 * x[:, 4])
            + 0.4 * (x[:, 5] > 0.5)
            + effect[plan]
            + 0.3 * (region % 3 - 1)
            + 0.8 * rng.logistic(size=m)
        )
        df = pd.DataFrame({f"x{i}": x[:, i] for i in range(8)})
        df["plan"] = plans[plan]
        df["region"] = regions[region]
        df["signup_date"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, m), unit="D")
        df[TARGET] = np.where(z > 1.0, "yes", "no")
        for column in df.columns[:-1]:  # 2% missing in every feature
            df.loc[rng.random(m) < 0.02, column] = None
        table = pa.Table.from_pandas(df, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    return path


def measured(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Wall seconds and peak RSS (GiB, the largest process of the tree) of ``cmd``, run in a fresh wrapper."""
    wrapper = [sys.executable, str(HERE), "--measure", "--", *cmd]
    out = subprocess.run(wrapper, cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        err = out.stderr.strip().splitlines()
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n" + "\n".join([*err[:5], "...", *err[-15:]]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_main(cmd: list[str]) -> None:
    """--measure: run ``cmd``, print {"seconds", "rss_gib", "code"}; append to $BENCH_STAGES when set."""
    started = time.perf_counter()
    code = subprocess.run(cmd, stdout=sys.stderr).returncode
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = usage.ru_maxrss * 1024 / GIB  # Linux: KiB
    cpu = usage.ru_utime + usage.ru_stime  # CPU seconds of the whole tree: less sensitive to a busy machine
    record = {"cmd": cmd, "seconds": round(seconds, 3), "cpu_s": round(cpu, 3), "rss_gib": round(rss, 3), "code": code}
    if os.environ.get("BENCH_STAGES"):
        with open(os.environ["BENCH_STAGES"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    print(json.dumps(record))
    sys.exit(code)


def env_for(stages_file: Path | None = None) -> dict:
    from mlctl.repo.pipeline import stage_env

    env = {**stage_env(), "PYTHONPATH": str(ROOT)}
    if stages_file is not None:
        env["BENCH_STAGES"] = str(stages_file)
    return env


def wrap_stages(project: Path) -> None:
    """Every dvc.yaml stage command runs under the --measure wrapper (the file is the benchmark's copy)."""
    import yaml

    path = project / "dvc.yaml"
    spec = yaml.safe_load(path.read_text())
    for stage in spec["stages"].values():
        stage["cmd"] = f"{sys.executable} {HERE} --measure -- {stage['cmd']}"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def set_train(project: Path, train: dict, gate_max_mb: float | None = "keep") -> None:
    import yaml

    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["train"].update(train)
    params["train"]["search"] = {**params["train"]["search"], **train["search"]}
    if gate_max_mb != "keep":
        params["gate"]["max_model_mb"] = gate_max_mb
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def run_pipeline(project: Path, work: Path, label: str) -> dict:
    """`mlctl init` was run; now `dvc repro` with each stage measured. Returns stages, totals, results."""
    stages_file = work / f"{label}.stages.jsonl"
    stages_file.unlink(missing_ok=True)
    wrap_stages(project)
    total = measured(["dvc", "repro"], project, env_for(stages_file))
    stages = {}
    for line in stages_file.read_text().splitlines():
        record = json.loads(line)
        if record["cmd"][0] == "mlctl":  # not the outer `dvc repro`
            stages[record["cmd"][1]] = {k: record[k] for k in ("seconds", "cpu_s", "rss_gib")}
    return {"repro": total, "stages": stages, **results(project)}


def results(project: Path) -> dict:
    train = json.loads((project / "models/train.json").read_text())
    evaluated = json.loads((project / "metrics/evaluate.json").read_text())
    intervals = json.loads((project / "metrics/intervals.json").read_text())
    primary = "roc_auc"
    onnx = project / "models/model.onnx"
    return {
        "best": train["best"],
        "search": train["search"],
        "search_seconds": train["search_seconds"],
        "draws": {c["name"]: c["draws"] for c in train["candidates"]},
        "metric": primary,
        "value": evaluated["model"][primary],
        "interval": [intervals["model"][primary]["low"], intervals["model"][primary]["high"]],
        "skops_mb": round((project / "models/model.skops").stat().st_size / 1e6, 3),
        "onnx_mb": round(onnx.stat().st_size / 1e6, 3) if onnx.exists() else None,
    }


DIRECT_STEPS = ["collect", "validate", "prepare", "train", "evaluate", "export", "predict"]


def direct(project: Path) -> dict:
    """Each stage's work done directly with the libraries (benchmarks/direct_steps.py): ``core`` and ``same``."""
    env = env_for()
    return {
        level: {
            step: measured([sys.executable, str(HERE), "--direct", level, step, str(project)], project, env)
            for step in DIRECT_STEPS
        }
        for level in ("core", "same")
    }


def one_size(rows: int, work: Path, compare: bool) -> dict:
    data = work / f"data-{rows}.parquet"
    if not data.exists():
        generate(rows, data)
    out: dict = {"rows": rows, "load_before": os.getloadavg()[0]}  # 2 shared cores: a busy machine shows here
    project = work / f"p{rows}"
    shutil.rmtree(project, ignore_errors=True)
    env = env_for()
    out["init"] = measured(["mlctl", "init", str(project), "--data", str(data), "--target", TARGET, "--yes"], work, env)
    out.update(run_pipeline(project, work, f"new-{rows}"))
    out["direct"] = direct(project)
    out["total_seconds"] = round(out["init"]["seconds"] + out["repro"]["seconds"], 1)
    out["load_after"] = os.getloadavg()[0]
    if compare:
        old = work / f"p{rows}-old"
        shutil.rmtree(old, ignore_errors=True)
        init = measured(["mlctl", "init", str(old), "--data", str(data), "--target", TARGET, "--yes"], work, env)
        set_train(old, OLD_TRAIN, gate_max_mb=None)
        out["old"] = {"init": init, **run_pipeline(old, work, f"old-{rows}")}
        out["old"]["total_seconds"] = round(init["seconds"] + out["old"]["repro"]["seconds"], 1)
        shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(project, ignore_errors=True)
    return out


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _over(mine: float | None, direct: float | None) -> str:
    return "" if mine is None or not direct else f"{(mine / direct - 1) * 100:+.0f}%"


def report(out: dict) -> None:
    rows = out["rows"]
    print(
        f"\n== {rows:,} rows: init {out['init']['seconds']:.1f}s, pipeline {out['repro']['seconds']:.1f}s, "
        f"total {out['total_seconds']:.1f}s; best {out['best']['candidate']} {out['best']['params']}"
    )
    print(f"   load average (1 min) {out['load_before']:.1f} before, {out['load_after']:.1f} after the pipeline")
    print(
        f"   {out['metric']} {out['value']:.4f} [{out['interval'][0]:.4f}, {out['interval'][1]:.4f}], "
        f"draws {out['draws']}, model.skops {out['skops_mb']} MB, model.onnx {out['onnx_mb']} MB"
    )
    head = ("stage", "mlctl s", "cpu s", "RSS GiB", "core s", "same s", "cpu s", "RSS GiB", "vs core", "vs same", "cpu")
    print("   " + " ".join(f"{h:>8}" for h in head))
    print("   " + " " * 36 + "(direct: core calls / the same work; overhead in wall time, and CPU vs the same work)")
    for stage, m in out["stages"].items():
        core, same = (out["direct"][level].get(stage) or {} for level in ("core", "same"))
        wall, cpu = m["seconds"], m.get("cpu_s")
        if stage == "train" and same:  # the search is mlctl's work, the direct side has none
            wall -= out["search_seconds"]
            cpu = None
        cells = [stage, f"{m['seconds']:.2f}", _num(m.get("cpu_s")), f"{m['rss_gib']:.2f}"]
        cells += [_num(core.get("seconds")), _num(same.get("seconds")), _num(same.get("cpu_s"))]
        cells += [_num(same.get("rss_gib")), _over(wall, core.get("seconds")), _over(wall, same.get("seconds"))]
        cells += [_over(cpu, same.get("cpu_s"))]
        print("   " + " ".join(f"{c:>8}" for c in cells))
    print(
        f"   train: search {out['search_seconds']:.1f}s of {out['stages']['train']['seconds']:.1f}s "
        "(overhead above: the stage minus its search vs one direct fit)"
    )
    if "old" in out:
        old = out["old"]
        speed = old["total_seconds"] / out["total_seconds"]
        inside = old["interval"][0] <= out["value"] or out["value"] >= old["value"]
        print(
            f"   old default: {old['best']['candidate']} {old['metric']} {old['value']:.4f} "
            f"[{old['interval'][0]:.4f}, {old['interval'][1]:.4f}], total {old['total_seconds']:.1f}s, "
            f"model.skops {old['skops_mb']} MB, model.onnx {old['onnx_mb']} MB"
        )
        cpu_old = sum(m.get("cpu_s") or 0 for m in old["stages"].values())
        cpu_new = sum(m.get("cpu_s") or 0 for m in out["stages"].values())
        if cpu_new:
            print(f"   pipeline CPU seconds: old {cpu_old:.0f}, size-aware {cpu_new:.0f} ({cpu_old / cpu_new:.1f}x)")
        print(
            f"   size-aware default is {speed:.1f}x faster; its {out['metric']} "
            f"{'is' if inside else 'is NOT'} within the old default's interval or better"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        measure_main(sys.argv[sys.argv.index("--") + 1 :])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--direct":
        sys.path.insert(0, str(HERE.parent))
        from direct_steps import main as direct_main

        direct_main(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--compare", action="store_true", help="also run the pre-issue-19 defaults on 100k rows")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep data and projects here (default: temp)")
    parser.add_argument("--json", type=Path, default=None, help="write every measurement here")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="mlctl-bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    everything = []
    for rows in args.rows:
        out = one_size(rows, work, compare=args.compare and rows == 100_000)
        everything.append(out)
        report(out)
        if args.json:
            args.json.write_text(json.dumps(everything, indent=1))
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
