"""Benchmark: mlctl's training stage vs the same scikit-learn search called directly.

Both run the same RandomizedSearchCV (same pipeline, space, folds, seed, n_jobs=-1)
on the same generated data. mlctl additionally reads the parquet splits, checks
the config, refits the winner, fits the baseline and writes its four artifacts;
the direct call refits inside the search (refit=True). The winner is refit on
the train split only here (train.refit_on_validation: false) so both fit the
same rows. Target: overhead below 10%.

    python benchmarks/bench_train.py [--rows 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlctl.core.project import Project
from mlctl.model.estimators import build_pipeline
from mlctl.params import parse_params
from mlctl.stages.train import run
from mlctl.stages.train.search import PREFIX, check_space, make_cv
from mlctl.stages.train.training import select_features

SEED = 7
CANDIDATE = "hist_gradient_boosting"
SPACE = {"max_iter": [50, 100], "learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31]}


def make_data(n: int, seed: int = SEED) -> pd.DataFrame:
    """Mixed types with missing values and a learnable binary target."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0, 10, size=n),
            "x3": rng.exponential(2.0, size=n),
            "count": rng.integers(0, 50, size=n),
            "flag": rng.random(n) < 0.3,
            "colour": rng.choice(["red", "green", "blue", "black"], size=n),
            "region": rng.choice([f"r{i}" for i in range(12)], size=n),
        }
    )
    score = 1.2 * df.x1 + 0.2 * df.x2 - 0.3 * df.x3 + df.flag + (df.colour == "red") + rng.normal(0, 0.7, n)
    df.loc[rng.random(n) < 0.05, "x2"] = np.nan
    df.loc[rng.random(n) < 0.05, "colour"] = None
    df["target"] = np.where(score > np.median(score), "yes", "no")
    return df


def make_project(root: Path, df: pd.DataFrame) -> dict:
    processed = root / "data" / "processed"
    processed.mkdir(parents=True)
    n_train = int(len(df) * 0.8)
    df.iloc[:n_train].to_parquet(processed / "train.parquet", index=False)
    df.iloc[n_train:].to_parquet(processed / "validation.parquet", index=False)
    return {
        "seed": SEED,
        "target": "target",
        "task": "classification",
        "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
        "train": {
            "candidates": [CANDIDATE],
            "spaces": {CANDIDATE: SPACE},
            "search": {"method": "random", "n_iter": 4, "cv": 3, "n_jobs": -1},
            "refit_on_validation": False,
        },
    }


def time_mlctl(root: Path, params) -> tuple[float, dict]:
    started = time.perf_counter()
    result = run(params.train, params.common, Project(root))
    return time.perf_counter() - started, result.report["best"]


def time_direct(train: pd.DataFrame, params) -> tuple[float, dict]:
    from sklearn.model_selection import RandomizedSearchCV

    from mlctl.model.features import to_model_frame

    features = select_features(train, "target", params.train, [])
    X, y = to_model_frame(train, features), train["target"].to_numpy(dtype=object)
    pipe = build_pipeline(CANDIDATE, "classification", features, params.train.preprocess, SEED)
    grid = {PREFIX + k: v for k, v in check_space(CANDIDATE, "classification", SPACE, SEED).items()}
    search = RandomizedSearchCV(
        pipe, grid, n_iter=4, scoring="roc_auc", cv=make_cv("classification", 3, SEED), n_jobs=-1, random_state=SEED
    )
    started = time.perf_counter()
    search.fit(X, y)
    best = {k.removeprefix(PREFIX): v for k, v in search.best_params_.items()}
    return time.perf_counter() - started, {"params": best, "cv_score": float(search.best_score_)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    df = make_data(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        params = parse_params(make_project(root, df))
        train = pd.read_parquet(root / "data" / "processed" / "train.parquet")
        mlctl_times, direct_times = [], []
        for i in range(args.repeats):  # interleaved, so load changes hit both alike
            t_direct, best_direct = time_direct(train, params)
            t_mlctl, best_mlctl = time_mlctl(root, params)
            direct_times.append(t_direct)
            mlctl_times.append(t_mlctl)
            print(f"run {i + 1}: direct {t_direct:.2f}s  mlctl {t_mlctl:.2f}s", flush=True)
        assert best_mlctl["params"] == best_direct["params"], (best_mlctl, best_direct)
        assert abs(best_mlctl["cv_score"] - best_direct["cv_score"]) < 1e-12

    direct, ours = statistics.median(direct_times), statistics.median(mlctl_times)
    print(f"rows: {args.rows} (train {len(train)}), search: random n_iter=4 cv=3 n_jobs=-1 on {CANDIDATE}")
    print(f"direct scikit-learn search (median of {args.repeats}): {direct:.2f}s")
    print(f"mlctl train            (median of {args.repeats}): {ours:.2f}s")
    print(f"overhead ratio: {ours / direct:.3f} ({(ours / direct - 1) * 100:+.1f}%, target < +10%)")


if __name__ == "__main__":
    main()
