"""Shared fixtures: small generated data and throw-away projects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def make_frame(task: str = "classification", n: int = 400, seed: int = 0, n_classes: int = 2) -> pd.DataFrame:
    """Mixed-type tabular data with missing values and a learnable target.

    Columns: two numeric (one with NaN), an integer, a boolean, a categorical with
    NaN, a second categorical, a datetime, and `target` (strings for
    classification, float for regression).
    """
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    count = rng.integers(0, 20, size=n)
    flag = rng.random(n) < 0.3
    colour = rng.choice(["red", "green", "blue"], size=n)
    region = rng.choice(["north", "south", "east", "west"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    score = 1.5 * x1 + 0.3 * x2 + 1.0 * flag + np.where(colour == "red", 1.0, 0.0) + rng.normal(0, 0.5, n)
    df = pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "count": count,
            "flag": flag,
            "colour": colour,
            "region": region,
            "signup": signup,
        }
    )
    df.loc[rng.random(n) < 0.08, "x2"] = np.nan
    df.loc[rng.random(n) < 0.08, "colour"] = None
    if task == "regression":
        df["target"] = score
    else:
        edges = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
        labels = np.array(["no", "yes"] if n_classes == 2 else [f"c{i}" for i in range(n_classes)])
        df["target"] = labels[np.searchsorted(edges, score)]
    return df


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


# Tests never depend on the machine's git config.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlctl tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "mlctl tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
}


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity."""
    env = {**os.environ, **GIT_IDENTITY}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def write_params(root: Path, params: dict) -> Path:
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture
def make_project(tmp_path: Path):
    """Create a project directory with a data file and params.yaml; returns its root.

    Usage: ``root = make_project(df, params_overrides)``. The data is written to
    data/sources/data.csv and `collect` reads it.
    """

    def _make(df: pd.DataFrame | None = None, task: str = "classification", **sections) -> Path:
        root = tmp_path / "project"
        (root / "data" / "sources").mkdir(parents=True, exist_ok=True)
        df = make_frame(task) if df is None else df
        df.to_csv(root / "data" / "sources" / "data.csv", index=False)
        params = {
            "seed": 0,
            "target": "target",
            "task": task,
            "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
        }
        params.update(sections)
        write_params(root, params)
        return root

    return _make


def copy_pipeline_files(root: Path) -> None:
    """Copy this repository's dvc.yaml into a project (for `dvc repro` tests)."""
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")


from workflow_fixtures import moto_s3, python_env  # noqa: E402, F401  (session fixtures of the workflow harness)
