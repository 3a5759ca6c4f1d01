"""Superseded by `mlctl bench` (every project has it); kept so older workflows keep working.

    python benchmarks/bench_ci_micro.py [-C PROJECT] [--rows N] [--single N] [--repeat N] [--threads N]

Writes reports/bench.json (bench.output), which `mlctl report` compares with the base branch's.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlctl.cli import main

if __name__ == "__main__":
    main(["bench", *sys.argv[1:]])
