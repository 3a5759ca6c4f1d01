"""Small exported models for predict/bundle tests: trained, converted to ONNX, with a manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from conftest import make_frame

from mlctl.model.estimators import build_pipeline
from mlctl.model.features import infer_features, to_model_frame
from mlctl.params.train import PreprocessParams
from mlctl.stages.export.convert import write_onnx_model


@dataclass
class Exported:
    """A fitted pipeline with its ONNX file, manifest and the frame it scores."""

    task: str
    pipeline: Any
    features: list
    model_path: Path
    manifest_path: Path
    frame: pd.DataFrame  # raw rows (with an `id` column), not used in training

    @property
    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())

    def sklearn_predict(self, df: pd.DataFrame):
        """Reference predictions (labels, probabilities or None) from scikit-learn."""
        X = to_model_frame(df, self.features)
        labels = self.pipeline.predict(X)
        proba = self.pipeline.predict_proba(X) if self.task == "classification" else None
        return labels, proba


def export_model(root: Path, task: str = "classification", estimator: str | None = None, n: int = 400) -> Exported:
    """Train ``estimator`` on make_frame(task), write models/model.onnx + model.json under ``root``."""
    estimator = estimator or ("random_forest" if task == "regression" else "logistic_regression")
    df = make_frame(task, n=n, seed=0).drop(columns=["signup"])
    features = infer_features(df, "target")
    X = to_model_frame(df, features)
    params = {"n_estimators": 20, "max_depth": 6} if estimator == "random_forest" else {}
    pipeline = build_pipeline(estimator, task, features, PreprocessParams(), 0, **params)
    pipeline.fit(X, df["target"])
    model_path, manifest_path, _ = write_onnx_model(
        pipeline, features, root / "models", task=task, target="target", X_train=X
    )
    score = make_frame(task, n=300, seed=1).drop(columns=["signup", "target"])
    score.insert(0, "id", [f"r{i}" for i in range(len(score))])
    return Exported(task, pipeline, features, model_path, manifest_path, score)


def make_predict_project(root: Path, exported: Exported, **predict) -> Path:
    """A project at ``root`` with params.yaml (predict: section) and the exported model copied in."""
    import shutil

    import yaml

    (root / "models").mkdir(parents=True, exist_ok=True)
    shutil.copy(exported.model_path, root / "models" / "model.onnx")
    shutil.copy(exported.manifest_path, root / "models" / "model.json")
    params = {
        "seed": 0,
        "target": "target",
        "task": exported.task,
        "collect": {"sources": [{"name": "data", "path": "data/sources/data.csv"}]},
        "predict": predict,
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def write_frame(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as CSV, Parquet or JSON lines by extension (test inputs, not via mlctl.core.fileio)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True)
    return path


def read_any(path: Path) -> pd.DataFrame:
    """Read a predict output or rejects file (an empty JSON-lines file is an empty frame)."""
    if path.suffix == ".jsonl" and path.stat().st_size == 0:
        return pd.DataFrame()
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.read_json(path, lines=True)


def kill_mid_stream(root: Path, settle: float) -> int:
    """Run `mlctl predict data/big.csv out/p.parquet` and SIGKILL it ``settle`` s after streaming started.

    Returns the process's return code (-SIGKILL when it was killed mid-job).
    """
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "mlctl", "predict", "data/big.csv", "out/p.parquet", "--chunk-rows", "500"]
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list((root / "out").glob(".p.parquet.*.tmp")):  # streaming has started
            assert proc.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(settle)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode
