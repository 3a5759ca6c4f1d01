"""Build real exported models (ONNX + manifest) and run real servers for the serve tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import REPO, make_frame


def build_model(
    root: Path,
    task: str = "classification",
    estimator: str | None = None,
    *,
    n: int = 300,
    seed: int = 0,
    drop: tuple[str, ...] = (),
    name: str = "model",
) -> dict:
    """Train, convert and export a model into ``root``; returns paths, frame and sklearn pipeline."""
    from mlctl.model.estimators import build_pipeline
    from mlctl.model.features import infer_features, to_model_frame
    from mlctl.params.train import PreprocessParams
    from mlctl.stages.export.convert import write_onnx_model

    estimator = estimator or "random_forest"
    df = make_frame(task, n=n, seed=seed).drop(columns=["signup", *drop])
    features = infer_features(df, "target")
    X = to_model_frame(df, features)
    y = df["target"]
    params = {"n_estimators": 20, "max_depth": 6} if estimator == "random_forest" else {}
    pipe = build_pipeline(estimator, task, features, PreprocessParams(), 0, **params)
    pipe.fit(X, y)
    metrics = {"metrics": {"accuracy": 0.9} if task == "classification" else {"rmse": 0.5}}
    model, manifest_path, manifest = write_onnx_model(
        pipe, features, root, task=task, target="target", X_train=X, name=name, extra=metrics
    )
    return {
        "model": model,
        "manifest_path": manifest_path,
        "manifest": manifest,
        "pipeline": pipe,
        "features": features,
        "frame": df,
        "X": X,
    }


def records(df: pd.DataFrame, rows: int | slice = slice(0, 5)) -> list[dict]:
    """JSON-ready records of the feature columns (NaN/None become null)."""
    part = df.drop(columns=["target"]).iloc[rows]
    out = []
    for rec in part.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if v is None or (isinstance(v, float) and np.isnan(v)):
                clean[k] = None
            elif isinstance(v, (np.bool_, bool)):
                clean[k] = bool(v)
            elif isinstance(v, np.integer):
                clean[k] = int(v)
            elif isinstance(v, np.floating):
                clean[k] = float(v)
            else:
                clean[k] = v
        out.append(clean)
    return out


def sklearn_predict(built: dict, recs: list[dict]):
    """scikit-learn's labels and probabilities (if any) for JSON records."""
    from mlctl.model.features import to_model_frame

    df = pd.DataFrame(recs)
    for f in built["features"]:
        if f.kind == "numeric":
            df[f.name] = pd.to_numeric(df[f.name].astype("float64"), errors="coerce")
    X = to_model_frame(df, built["features"])
    pipe = built["pipeline"]
    labels = pipe.predict(X)
    proba = pipe.predict_proba(X) if hasattr(pipe, "predict_proba") else None
    return labels, proba


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200 (or fail with the server's output)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not become ready")


def start_cli_server(project: Path, port: int, *extra: str, env: dict | None = None) -> subprocess.Popen:
    """`python -m mlctl serve` in a subprocess inside ``project``."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("MLCTL_PROJECT", None)
    return subprocess.Popen(
        [sys.executable, "-m", "mlctl", "serve", "--port", str(port), *extra],
        cwd=project,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class ThreadServer:
    """A real uvicorn server (uvloop + httptools) on 127.0.0.1 in a background thread."""

    def __init__(self, app):
        import threading

        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve_config(built: dict, tmp: Path, **overrides):
    """A ServeConfig for a built model, logging under ``tmp/logs``."""
    from mlctl.serve import ServeConfig

    values = {
        "model_path": str(built["model"]),
        "manifest_path": str(built["manifest_path"]),
        "log_dir": str(tmp / "logs"),
        "log_flush_seconds": 0.1,
        "max_body_bytes": 65_536,
        "max_rows": 200,
    }
    values.update(overrides)
    return ServeConfig(**values)
