"""Benchmark: start-up of every `mlctl ... --help` against `python -c pass`; no-op `mlctl run` against `dvc repro`.

Targets (issue 19): every command's `--help` under 0.15 s on 2 cores; a no-op `mlctl run` within 1.1x
of a no-op `dvc repro` on the same project. Runs are interleaved (load on a shared machine hits both
alike) and summarised by medians. The no-op project is a clone of this repository's own ML project
(params.yaml, dvc.yaml, data/sources) with its pipeline run once first.
With --imports, also prints the slowest imports of `mlctl --help` (python -X importtime).
Run: ``python benchmarks/bench_startup.py [--runs N] [--noop-runs N] [--pause S] [--no-noop] [--imports]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HELP_TARGET = 0.15
NOOP_TARGET = 1.1
PROJECT_FILES = ("params.yaml", "dvc.yaml", "data/sources", "data/schema.yaml", "data/profile.json", ".dvcignore")


def wall(cmd: list[str], env: dict[str, str], cwd: Path = REPO) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def command_paths() -> list[list[str]]:
    """Every command path of the CLI: [], ['train'], ['params', 'check'], ..."""
    sys.path.insert(0, str(REPO))
    import typer

    from mlctl.cli import app

    paths: list[list[str]] = []

    def walk(cmd, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


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


def bench_help(env: dict[str, str], runs: int) -> None:
    baseline_cmd = [sys.executable, "-c", "pass"]
    paths = command_paths()
    cmds = {" ".join(["mlctl", *p, "--help"]): [sys.executable, "-m", "mlctl", *p, "--help"] for p in paths}
    for cmd in cmds.values():
        wall(cmd, env)  # warm the page cache and __pycache__
    base: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        base.append(wall(baseline_cmd, env))
        for name, cmd in cmds.items():
            times[name].append(wall(cmd, env))
    b = statistics.median(base)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"--help of {len(cmds)} command paths, median of {runs} interleaved runs each")
    print(f"  python -c pass                     {b:6.3f} s")
    for name, m in sorted(medians.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<34} {m:6.3f} s  ({m / b:4.2f}x python -c pass)")
    worst = max(medians.values())
    print(f"slowest {worst:.3f} s; target < {HELP_TARGET} s: {'met' if worst < HELP_TARGET else 'NOT met'}")


def script(name: str) -> list[str]:
    """The console script `name` beside this Python, else `python -m name`."""
    path = Path(sys.executable).with_name(name)
    return [str(path)] if path.exists() else [sys.executable, "-m", name]


def noop_project(env: dict[str, str]) -> Path:
    """A git + DVC copy of this repository's ML project, its pipeline run once."""
    root = Path(tempfile.mkdtemp(prefix="mlctl-noop-"))
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        elif src.exists():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / name)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=root, env=env, check=True)
    print(f"no-op project: {root} (first run of the pipeline...)", flush=True)
    subprocess.run([sys.executable, "-m", "mlctl", "run"], cwd=root, env=env, check=True, capture_output=True)
    return root


def bench_noop(env: dict[str, str], runs: int, pause: float) -> None:
    root = noop_project(env)
    try:
        dvc_cmd = [*script("dvc"), "repro"]  # as users type them: the console scripts
        mlctl_cmd = [*script("mlctl"), "run"]
        wall(dvc_cmd, env, root)
        dvc, mlctl = [], []
        for _ in range(runs):
            # DVC's analytics daemon (started as each `dvc repro` exits, ~0.5 s of CPU) would otherwise share
            # the two cores with the next command; a person does not type the next command within a second
            time.sleep(pause)
            dvc.append(wall(dvc_cmd, env, root))
            time.sleep(pause)
            mlctl.append(wall(mlctl_cmd, env, root))
        d, m = statistics.median(dvc), statistics.median(mlctl)
        ratios = sorted(b / a for a, b in zip(dvc, mlctl, strict=True))
        print(f"no-op pipeline, median of {runs} interleaved runs, {pause:.1f} s apart")
        print(f"  dvc repro     {d:6.3f} s")
        print(f"  mlctl run     {m:6.3f} s  ({m / d:4.2f}x; paired ratios {ratios[0]:.2f}..{ratios[-1]:.2f})")
        print(f"target <= {NOOP_TARGET}x: {'met' if m / d <= NOOP_TARGET else 'NOT met'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="runs of each --help")
    parser.add_argument("--noop-runs", type=int, default=15, help="runs of each no-op pipeline")
    parser.add_argument("--pause", type=float, default=1.5, help="seconds between no-op runs (0: back to back)")
    parser.add_argument("--no-noop", action="store_true", help="skip the no-op pipeline comparison")
    parser.add_argument("--imports", action="store_true", help="show the slowest imports of `mlctl --help`")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    bench_help(env, args.runs)
    if args.imports:
        for seconds, name in slowest_imports(env):
            print(f"  import {name:<24} {seconds:6.3f} s")
    if not args.no_noop:
        bench_noop(env, args.noop_runs, args.pause)


if __name__ == "__main__":
    main()
