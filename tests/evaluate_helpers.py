"""A trained project for evaluate/gate tests: the artifacts `mlctl train` writes, made directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from conftest import make_frame, write_params
from sklearn.pipeline import Pipeline

from mlctl.core.fileio import save_skops, write_json, write_table
from mlctl.model.estimators import build_pipeline, make_baseline, preprocessor
from mlctl.model.features import infer_features, to_model_frame
from mlctl.params.train import PreprocessParams


def make_data(task: str = "classification", n: int = 300, seed: int = 0, n_classes: int = 2) -> pd.DataFrame:
    """conftest's frame without the datetime, plus `group`: a sensitive column that is no feature."""
    df = make_frame(task, n=n, seed=seed, n_classes=n_classes).drop(columns="signup")
    df["group"] = np.random.default_rng(seed + 1).choice(["a", "b"], size=n, p=[0.6, 0.4])
    return df


def train_project(
    root: Path,
    task: str = "classification",
    *,
    candidate: str = "logistic_regression",
    n: int = 300,
    seed: int = 0,
    n_classes: int = 2,
    test: pd.DataFrame | None = None,
    model_params: dict[str, Any] | None = None,
    **sections: Any,
) -> Path:
    """Write splits, model.skops, baseline.skops, train.json and params.yaml under ``root``."""
    df = make_data(task, n=n, seed=seed, n_classes=n_classes)
    cut1, cut2 = int(n * 0.6), int(n * 0.8)
    train, validation = df.iloc[:cut1], df.iloc[cut1:cut2]
    test = df.iloc[cut2:] if test is None else test
    processed = root / "data" / "processed"
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        write_table(part.reset_index(drop=True), processed / f"{name}.parquet")

    features = infer_features(train, "target", exclude=["group"])
    prep = PreprocessParams()
    X, y = to_model_frame(train, features), train["target"]
    model = build_pipeline(candidate, task, features, prep, seed, **(model_params or {})).fit(X, y)
    baseline = Pipeline(
        [("preprocess", preprocessor(features, prep, scale=True)), ("model", make_baseline(task, seed))]
    )
    baseline.fit(X, y)
    models = root / "models"
    save_skops(model, models / "model.skops")
    save_skops(baseline, models / "baseline.skops")
    classes = sorted(y.unique().tolist()) if task == "classification" else None
    write_json(
        models / "train.json",
        {
            "task": task,
            "target": "target",
            "features": [f.to_dict() for f in features],
            "classes": classes,
            "best": {"candidate": candidate, "params": model_params or {}, "cv_score": 0.8},
            "seed": seed,
            "data_hash": "0" * 64,
        },
    )
    params = {
        "seed": seed,
        "target": "target",
        "task": task,
        "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
        "evaluate": {"bootstrap": 50, "permutation_repeats": 2, "min_slice_size": 10},
    }
    for key, value in sections.items():
        params[key] = {**params.get(key, {}), **value}
    write_params(root, params)
    return root
