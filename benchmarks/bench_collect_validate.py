"""Benchmark: `collect` + `validate` of a large Parquet file against pandas.read_parquet alone.

Generates a 1,000,000-row × 20-column Parquet file (10 numeric, 10 categorical,
some missing values) in a temporary project, infers its schema once, then times
(median of --runs runs, in this process, library calls):

- the baseline: ``pandas.read_parquet`` of the file;
- ``mlctl collect`` (read, check, hash, write data/raw + manifest);
- ``mlctl validate`` (read, pandera lazy validation, profile comparison, report);
- collect with a re-encoded output (a source that is not copied byte for byte).

Target: collect + validate within 3x of the baseline. Run:
``PYTHONPATH=. python benchmarks/bench_collect_validate.py [--rows N] [--runs K] [--cli]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlctl.core.fileio import frame_hash  # noqa: E402
from mlctl.core.project import Project  # noqa: E402
from mlctl.data.schema import run_infer  # noqa: E402
from mlctl.params import load_params  # noqa: E402
from mlctl.stages import collect, validate  # noqa: E402


def make_data(rows: int, seed: int = 0) -> pd.DataFrame:
    """Mixed numeric/categorical data with missing values."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for i in range(10):
        cols[f"num{i}"] = rng.normal(i, 1 + i, rows) if i % 2 == 0 else rng.integers(0, 1_000, rows)
    for i in range(9):
        levels = np.array([f"level_{j}" for j in range(3 + 2 * i)])
        cols[f"cat{i}"] = levels[rng.integers(0, len(levels), rows)]
    cols["target"] = np.where(rng.random(rows) < 0.3, "yes", "no")
    df = pd.DataFrame(cols)
    df.loc[rng.random(rows) < 0.05, "num0"] = np.nan
    df.loc[rng.random(rows) < 0.05, "cat0"] = None
    return df


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cli", action="store_true", help="also time `python -m mlctl collect/validate`")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlctl-bench-") as tmp:
        root = Path(tmp)
        source = root / "data" / "sources" / "data.parquet"
        source.parent.mkdir(parents=True)
        make_data(args.rows).to_parquet(source, index=False)
        mb = source.stat().st_size / 1e6
        collect_section = {"sources": [{"name": "data", "path": "data/sources/data.parquet"}]}
        params_data = {"seed": 0, "target": "target", "collect": collect_section}
        (root / "params.yaml").write_text(yaml.safe_dump(params_data))
        params, project = load_params(root / "params.yaml"), Project(root)

        def run_collect() -> None:
            collect.run(params.collect, params.common, project)

        def run_validate() -> None:
            validate.run(params.validate_, params.common, project)

        run_collect()
        infer_s = median_time(lambda: run_infer(params.validate_, params.common, project), 1)
        run_validate()  # warm-up: imports, page cache

        # Interleaved, so a burst of load on a shared machine hits every measurement alike.
        timings: dict[str, list[float]] = {"baseline": [], "collect": [], "validate": [], "total": []}
        for _ in range(args.runs):
            timings["baseline"].append(median_time(lambda: pd.read_parquet(source), 1))
            timings["collect"].append(median_time(run_collect, 1))
            timings["validate"].append(median_time(run_validate, 1))
            timings["total"].append(timings["collect"][-1] + timings["validate"][-1])
        baseline, t_collect, t_validate = (statistics.median(timings[k]) for k in ("baseline", "collect", "validate"))
        ratios = [t / b for t, b in zip(timings["total"], timings["baseline"], strict=True)]

        # A source with a read option is re-encoded instead of copied: the general path.
        reencode = {
            **collect_section,
            "sources": [{**collect_section["sources"][0], "read_options": {"engine": "pyarrow"}}],
        }
        (root / "params.yaml").write_text(yaml.safe_dump({**params_data, "collect": reencode}))
        params2 = load_params(root / "params.yaml")
        t_reencode = median_time(lambda: collect.run(params2.collect, params2.common, project), args.runs)

        frame = pd.read_parquet(source)
        t_hash = median_time(lambda: frame_hash(frame), args.runs)  # the manifest's content hash, alone
        total = t_collect + t_validate
        print(f"data: {args.rows:,} rows × 20 columns, {mb:.1f} MB Parquet; median of {args.runs} runs")
        print(f"pandas.read_parquet (baseline)  {baseline:8.3f} s")
        print(f"mlctl collect                   {t_collect:8.3f} s   ({t_collect / baseline:.2f}x)")
        print(f"  of which mlctl.core.fileio.frame_hash  {t_hash:8.3f} s   ({t_hash / baseline:.2f}x)")
        print(f"mlctl validate                  {t_validate:8.3f} s   ({t_validate / baseline:.2f}x)")
        print(f"collect + validate              {total:8.3f} s   ({total / baseline:.2f}x, target ≤ 3x)")
        print(f"  per-run ratios                {', '.join(f'{r:.2f}x' for r in ratios)}")
        print(f"collect, re-encoding Parquet    {t_reencode:8.3f} s   ({t_reencode / baseline:.2f}x)")
        print(f"schema infer (once)             {infer_s:8.3f} s")
        if args.cli:
            (root / "params.yaml").write_text(yaml.safe_dump(params_data))
            env_cmd = [sys.executable, "-m", "mlctl"]
            for cmd in ("collect", "validate"):
                t = median_time(
                    lambda cmd=cmd: subprocess.run(
                        [*env_cmd, cmd, "-C", str(root), "--json"], cwd=REPO, check=True, capture_output=True
                    ),
                    args.runs,
                )
                print(f"python -m mlctl {cmd:<14}  {t:8.3f} s   (CLI, includes interpreter start and imports)")


if __name__ == "__main__":
    main()
