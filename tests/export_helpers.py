"""A trained project on disk (what `mlctl train` leaves behind), for the export and explain tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from conftest import make_frame

from mlctl.core.fileio import frame_hash, save_skops, write_json, write_table
from mlctl.model.estimators import build_pipeline
from mlctl.model.features import infer_features, to_model_frame
from mlctl.params.train import PreprocessParams

# Small models keep the suite fast; parity does not depend on size.
SMALL = {
    "random_forest": {"n_estimators": 10, "max_depth": 6},
    "gradient_boosting": {"n_estimators": 20},
    "hist_gradient_boosting": {"max_iter": 20},
}


def model_frame(task: str = "classification", n: int = 400, seed: int = 0, n_classes: int = 2) -> pd.DataFrame:
    """conftest's mixed frame without the datetime column (prepare would have expanded it)."""
    return make_frame(task, n=n, seed=seed, n_classes=n_classes).drop(columns=["signup"])


def fit(name: str, task: str, train: pd.DataFrame, prep: PreprocessParams | None = None, **params: Any):
    """A registry pipeline fitted on ``train``, and its features."""
    features = infer_features(train, "target")
    pipe = build_pipeline(name, task, features, prep or PreprocessParams(), 0, **{**SMALL.get(name, {}), **params})
    y = train["target"].to_numpy(dtype=object) if task == "classification" else train["target"]
    return pipe.fit(to_model_frame(train, features), y), features


def write_trained_project(
    root: Path,
    *,
    name: str = "logistic_regression",
    task: str = "classification",
    n: int = 400,
    n_classes: int = 2,
    pipeline: Any = None,
    export: dict | None = None,
) -> Path:
    """params.yaml, data/processed/{train,test}.parquet, models/model.skops and models/train.json."""
    df = model_frame(task, n=n, n_classes=n_classes)
    cut = int(len(df) * 0.75)
    train, test = df.iloc[:cut].reset_index(drop=True), df.iloc[cut:].reset_index(drop=True)
    fitted, features = fit(name, task, train)
    pipeline = pipeline if pipeline is not None else fitted
    write_table(train, root / "data" / "processed" / "train.parquet")
    write_table(test, root / "data" / "processed" / "test.parquet")
    save_skops(pipeline, root / "models" / "model.skops")
    classes = [str(c) for c in pipeline.classes_] if task == "classification" else None
    write_json(
        root / "models" / "train.json",
        {
            "task": task,
            "target": "target",
            "features": [f.to_dict() for f in features],
            "classes": classes,
            "best": {"candidate": name, "params": SMALL.get(name, {}), "cv_score": 0.9},
            "fit_rows": len(train),
            "refit_on": ["train"],
            "data_hash": frame_hash(train),
        },
    )
    params = {
        "seed": 0,
        "target": "target",
        "task": task,
        "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
    }
    if export:
        params["export"] = export
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root
