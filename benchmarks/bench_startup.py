"""Benchmark: wall time of `python -m mlctl --help` against `python -c pass`.

Median of --runs runs each (interleaved, so load on a shared machine hits both
alike). Target: `mlctl --help` under 0.25 s. With --imports, also prints the
slowest imports of `mlctl --help` (python -X importtime) to show where the time goes.
Run: ``python benchmarks/bench_startup.py [--runs N] [--imports]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.25


def wall(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def slowest_imports(env: dict[str, str], top: int = 12) -> list[tuple[float, str]]:
    """Cumulative import times (seconds) of the top-level packages `mlctl --help` loads."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlctl", "--help"], cwd=REPO, env=env, capture_output=True, text=True
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if cumulative.isdigit() and not name.startswith(" ") and "." not in name:
            rows.append((int(cumulative) / 1e6, name))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--imports", action="store_true", help="show the slowest imports")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    baseline_cmd = [sys.executable, "-c", "pass"]
    mlctl_cmd = [sys.executable, "-m", "mlctl", "--help"]
    wall(mlctl_cmd, env)  # warm the page cache and __pycache__
    base, help_ = [], []
    for _ in range(args.runs):
        base.append(wall(baseline_cmd, env))
        help_.append(wall(mlctl_cmd, env))
    b, h = statistics.median(base), statistics.median(help_)
    print(f"median of {args.runs} runs")
    print(f"python -c pass            {b:6.3f} s")
    print(f"python -m mlctl --help    {h:6.3f} s   ({h - b:.3f} s above the interpreter start)")
    print(f"target < {TARGET} s: {'met' if h < TARGET else 'NOT met'}")
    if args.imports:
        for seconds, name in slowest_imports(env):
            print(f"  import {name:<24} {seconds:6.3f} s")


if __name__ == "__main__":
    main()
