"""Benchmark the exported ONNX model (onnxruntime through mlctl.onnxmodel.runtime) against scikit-learn.

    python benchmarks/bench_onnx.py                       # random_forest and logistic_regression
    python benchmarks/bench_onnx.py --models knn --single 2000 --batch-rows 100000 --repeat 5

For each model, fitted on --train-rows generated rows (six mixed-type features
with missing values) and exported with `mlctl.stages.export.export_model`
(so parity is proven before timing), in the same process and run:

* single row: the median over --single calls of
  - onnx: `OnnxModel.check_records([record])` + `run` (what `mlctl serve` does per request),
  - onnx run only: `OnnxModel.run` on ready feeds,
  - sklearn: `to_model_frame` + `pipeline.predict_proba` on a one-row DataFrame;
* batch: the median over --repeat runs on --batch-rows rows of
  - onnx: `check_columns` + `run`, sklearn: `predict_proba` on the model frame.

Printed: medians, rows/s and the sklearn/onnx ratio (> 1: ONNX is faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def generate(n: int, seed: int):
    """Mixed-type rows with missing values and a learnable yes/no target."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(0, 10, size=n)
    count, flag = rng.integers(0, 20, size=n), rng.random(n) < 0.3
    colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), size=n)
    region = rng.choice(np.array(["north", "south", "east", "west"], dtype=object), size=n)
    score = 1.5 * x1 + 0.3 * x2 + flag + (colour == "red") + rng.normal(0, 0.5, n)
    df = pd.DataFrame({"x1": x1, "x2": x2, "count": count, "flag": flag, "colour": colour, "region": region})
    df.loc[rng.random(n) < 0.05, "x2"] = np.nan
    df.loc[rng.random(n) < 0.05, "colour"] = None
    df["target"] = np.where(score > np.median(score), "yes", "no")
    return df


def timed(fn, repeat: int) -> float:
    """Median seconds of ``repeat`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(name: str, train, batch, args) -> None:
    import onnxruntime as ort

    from mlctl.model.estimators import build_pipeline
    from mlctl.model.features import infer_features, to_model_frame
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.params.export import ExportParams
    from mlctl.params.train import PreprocessParams
    from mlctl.stages.export import Trained, export_model

    features = infer_features(train, "target")
    X_train = to_model_frame(train, features)
    t = time.perf_counter()
    pipe = build_pipeline(name, "classification", features, PreprocessParams(), 0).fit(X_train, train["target"])
    fit_s = time.perf_counter() - t
    trained = Trained(pipe, features, "classification", "target", [str(c) for c in pipe.classes_])
    t = time.perf_counter()
    data, manifest = export_model(trained, X_train, to_model_frame(batch.iloc[:2000], features), ExportParams())
    export_s = time.perf_counter() - t
    model = OnnxModel(ort.InferenceSession(data, providers=["CPUExecutionProvider"]), manifest)
    p = manifest["parity"]
    print(
        f"\n## {name}: {type(pipe[-1]).__name__}, fit {fit_s:.1f}s on {len(train):,} rows, export {export_s:.1f}s, "
        f"{len(data) / 1024:.0f} KiB, parity on 2,000 rows: labels {p['label_agreement']:.4%}, "
        f"max diff {p['max_abs_diff']:.2g}"
    )

    raw_row = batch.drop(columns=["target"]).iloc[[3]]
    record = {k: (None if v != v else v) for k, v in raw_row.iloc[0].to_dict().items()}  # NaN → null, as JSON
    record["flag"] = bool(record["flag"])
    feeds_1 = model.check_records([record]).feeds

    def onnx_single():
        checked = model.check_records([record])
        return model.run(checked.feeds)

    def sklearn_single():
        return pipe.predict_proba(to_model_frame(raw_row, features))

    single = {
        "onnx (validate + run)": timed(onnx_single, args.single),
        "onnx (run only)": timed(lambda: model.run(feeds_1), args.single),
        "sklearn predict_proba": timed(sklearn_single, args.single),
    }
    base = single["sklearn predict_proba"]
    print(f"single row, median of {args.single:,} calls:")
    for label, s in single.items():
        print(f"  {label:<24} {s * 1e6:10.1f} µs   sklearn/this = {base / s:6.1f}x")

    X_batch = to_model_frame(batch, features)
    columns = {f.name: X_batch[f.name].to_numpy() for f in features}

    def onnx_batch():
        checked = model.check_columns(columns, len(X_batch))
        return model.run(checked.feeds)

    batch_times = {
        "onnx (validate + run)": timed(onnx_batch, args.repeat),
        "sklearn predict_proba": timed(lambda: pipe.predict_proba(X_batch), args.repeat),
    }
    base = batch_times["sklearn predict_proba"]
    print(f"{len(batch):,} rows, median of {args.repeat} runs:")
    for label, s in batch_times.items():
        print(f"  {label:<24} {s * 1e3:10.1f} ms   {len(batch) / s:12,.0f} rows/s   sklearn/this = {base / s:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["random_forest", "logistic_regression"])
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=1000, help="single-row calls per measurement")
    parser.add_argument("--repeat", type=int, default=5, help="batch runs per measurement")
    args = parser.parse_args()
    import onnxruntime
    import sklearn

    print(f"scikit-learn {sklearn.__version__}, onnxruntime {onnxruntime.__version__}")
    train, batch = generate(args.train_rows, 0), generate(args.batch_rows, 1)
    for name in args.models:
        bench(name, train, batch, args)


if __name__ == "__main__":
    main()
