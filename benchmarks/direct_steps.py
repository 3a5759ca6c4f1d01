"""The work of each pipeline stage done directly with the libraries, for bench_pipeline.py's overhead columns.

Two baselines per stage, each run in its own process (``bench_pipeline.py --direct LEVEL STEP PROJECT``):

- ``core``: the stage's central library calls only (pandas/pyarrow read and write, one fit of the chosen
  estimator, skl2onnx convert, onnxruntime scoring): a lower bound that leaves out what else the stage makes.
- ``same``: everything the stage computes and writes, written as a data scientist would with the libraries'
  public functions (scikit-learn's metrics and permutation importance, pandera's YAML schema, matplotlib
  figures, skl2onnx + onnx's checker), at the sizes and caps the stage used (read from the project's
  params.yaml and the stage's own outputs), so the difference is mlctl's own cost.

Neither calls mlctl's stage code; a few mlctl helpers load files (skops, params) and are named where used.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

TARGET = "churned"


def to_frame(df, info):
    """The model's input columns: numerics as float, categoricals as strings with missing as ""."""
    import pandas as pd

    out = {}
    for f in info["features"]:
        col = df[f["name"]]
        if f["kind"] == "numeric":
            out[f["name"]] = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            out[f["name"]] = col.astype("string").fillna("").astype(object)
    return pd.DataFrame(out)


def onnx_inputs(session, X) -> dict:
    """One (n, 1) column per model input, in the type the model declares."""
    import numpy as np

    types = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}
    return {i.name: X[i.name].to_numpy(dtype=types.get(i.type, object)).reshape(-1, 1) for i in session.get_inputs()}


def _params(project: Path):
    from mlctl.params import load_params  # the effective values (defaults filled in): the sizes the stage used

    return load_params(project / "params.yaml")


def _load_model(path: Path):
    from mlctl.core.fileio import load_skops  # skops with a type allow-list, as a careful user would load it

    return load_skops(path)


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    return buf.getvalue()


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "<img src='data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + "'>"


# ---- core: the central library calls ----


def core(step: str, project: Path, scratch: Path) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    info = json.loads((project / "models/train.json").read_text())
    processed = project / "data/processed"
    if step == "collect":  # read the source, write it as the raw Parquet
        source = next((project / "data/sources").glob("*.parquet"))
        pq.write_table(pq.read_table(source), scratch / "raw.parquet")
    elif step == "validate":  # read it and compute per-column null counts and ranges
        df = pd.read_parquet(project / "data/raw/data.parquet")
        df.isna().sum(), df.describe()
    elif step == "prepare":  # read, shuffle-split 70/10/20, write three Parquet files
        from sklearn.model_selection import train_test_split

        df = pd.read_parquet(project / "data/raw/data.parquet")
        rest, test = train_test_split(df, test_size=0.2, random_state=0, stratify=df[TARGET])
        train, val = train_test_split(rest, test_size=0.125, random_state=0, stratify=rest[TARGET])
        for name, part in (("train", train), ("validation", val), ("test", test)):
            part.to_parquet(scratch / f"{name}.parquet", index=False)
    elif step == "train":  # one fit of the chosen estimator with the chosen params on train + validation
        from sklearn.base import clone

        chosen = _load_model(project / "models/model.skops")  # only for its (unfitted) configuration
        df = pd.concat([pd.read_parquet(processed / f"{s}.parquet") for s in ("train", "validation")])
        clone(chosen).fit(to_frame(df, info), df[TARGET].to_numpy(dtype=object))
    elif step == "evaluate":  # read test, predict, roc_auc
        from sklearn.metrics import roc_auc_score

        model = _load_model(project / "models/model.skops")
        df = pd.read_parquet(processed / "test.parquet")
        roc_auc_score(df[TARGET] == "yes", model.predict_proba(to_frame(df, info))[:, 1])
    elif step == "export":  # skl2onnx convert + onnxruntime scoring of the test split
        _convert(project, info, pd.read_parquet(processed / "test.parquet"))
    elif step == "predict":  # onnxruntime scoring of the test split, written as Parquet
        import onnxruntime as ort

        session = ort.InferenceSession(str(project / "models/model.onnx"), providers=["CPUExecutionProvider"])
        features = [f["name"] for f in info["features"]]
        X = to_frame(pd.read_parquet(processed / "test.parquet", columns=features), info)
        out = session.run(None, onnx_inputs(session, X))
        pd.DataFrame({"label": out[0]}).to_parquet(scratch / "pred.parquet")
    else:
        raise SystemExit(f"unknown step {step}")


def _convert(project: Path, info: dict, df) -> tuple[Any, Any, Any]:
    """skl2onnx conversion of the trained model and an onnxruntime session scoring ``df``."""
    import onnxruntime as ort
    from skl2onnx import to_onnx

    from mlctl.stages.export.onnx_fixes import register

    register()  # skl2onnx 1.20 cannot convert HistGradientBoosting as shipped (see onnx_fixes)
    model = _load_model(project / "models/model.skops")
    X = to_frame(df, info)
    sample = X.iloc[:1].astype({c: "float32" for c in X.columns if X[c].dtype != object})  # float inputs
    onx = to_onnx(model, sample, options={type(model.steps[-1][1]): {"zipmap": False}})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return model, onx, session.run(None, onnx_inputs(session, X))


# ---- same: everything the stage computes and writes ----


def same(step: str, project: Path, scratch: Path) -> None:
    if step in ("collect", "predict"):  # the core calls are the stage's work
        core(step, project, scratch)
    elif step == "train":
        _train(project, scratch)
    elif step == "validate":
        _validate(project)
    elif step == "prepare":
        _prepare(project, scratch)
    elif step == "evaluate":
        _evaluate(project, scratch)
    elif step == "export":
        _export(project, scratch)
    else:
        raise SystemExit(f"unknown step {step}")


def _validate(project: Path) -> None:
    """pandera's own YAML schema, validated lazily (every failure collected), as `mlctl validate` does."""
    import pandas as pd
    from pandera.io.pandas_io import from_yaml

    schema = from_yaml(project / "data/schema.yaml")
    schema.validate(pd.read_parquet(project / "data/raw/data.parquet"), lazy=True)


def _train(project: Path, scratch: Path) -> None:
    """Beyond the search: the chosen configuration and the baseline fitted on train + validation, the train
    split's hash, both models saved with skops, the report."""
    import pandas as pd
    import skops.io as sio
    from sklearn.base import clone

    info = json.loads((project / "models/train.json").read_text())
    processed = project / "data/processed"
    train = pd.read_parquet(processed / "train.parquet")
    df = pd.concat([train, pd.read_parquet(processed / "validation.parquet")], ignore_index=True)
    X, y = to_frame(df, info), df[TARGET].to_numpy(dtype=object)
    models = {name: clone(_load_model(project / f"models/{name}.skops")).fit(X, y) for name in ("model", "baseline")}
    digest = hashlib.sha256(pd.util.hash_pandas_object(train, index=False).values.tobytes()).hexdigest()
    for name, model in models.items():
        sio.dump(model, scratch / f"{name}.skops")
    (scratch / "train.json").write_text(json.dumps({**info, "data_hash": digest}))


def _prepare(project: Path, scratch: Path) -> None:
    """Clean, split stratified 70/10/20, date parts, split hashes, an EDA report with figures, three Parquet files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import train_test_split

    p = _params(project)
    prep, seed = p.prepare, p.common.seed
    df = pd.read_parquet(project / "data/raw/data.parquet")
    df = df.drop_duplicates().dropna(subset=[TARGET]).reset_index(drop=True)
    rest, test = train_test_split(df, test_size=prep.split.test_size, random_state=seed, stratify=df[TARGET])
    val_share = prep.split.validation_size / (1 - prep.split.test_size)
    train, val = train_test_split(rest, test_size=val_share, random_state=seed, stratify=rest[TARGET])
    parts = {}
    for name, part in (("train", train), ("validation", val), ("test", test)):
        part = part.reset_index(drop=True)
        for col in prep.date_columns:
            when = pd.to_datetime(part[col])
            for unit in prep.date_parts:
                part[f"{col}_{unit}"] = getattr(when.dt, unit)
        parts[name] = part.drop(columns=list(prep.date_columns))
    hashes = {
        n: hashlib.sha256(pd.util.hash_pandas_object(f, index=False).values.tobytes()).hexdigest()
        for n, f in parts.items()
    }
    # EDA: a profile of every column, associations with the target and figures on a capped sample
    cleaned = pd.concat(parts.values(), ignore_index=True)
    profile = cleaned.describe(include="all").T.assign(missing=cleaned.isna().mean(), unique=cleaned.nunique())
    sample = cleaned.sample(min(len(cleaned), prep.eda_max_rows), random_state=seed)
    y = (sample[TARGET] == sorted(sample[TARGET].unique())[-1]).astype(float)
    figures, association = [], {}
    features = [c for c in sample.columns if c != TARGET][: prep.eda_max_features]
    for col in features:
        values = sample[col]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 2.8))
        if pd.api.types.is_numeric_dtype(values):
            association[col] = float(pd.Series(values.to_numpy(dtype=float)).corr(y.reset_index(drop=True)))
            left.hist(values.dropna(), bins=30)
            for label, group in sample.groupby(TARGET)[col]:
                right.hist(group.dropna(), bins=30, alpha=0.5, label=str(label))
        else:
            table = pd.crosstab(values.fillna("(missing)"), sample[TARGET])
            chi2 = (
                ((table - np.outer(table.sum(1), table.sum(0)) / table.values.sum()) ** 2)
                / (np.outer(table.sum(1), table.sum(0)) / table.values.sum())
            ).values.sum()
            association[col] = float(np.sqrt(chi2 / table.values.sum() / max(1, min(table.shape) - 1)))
            values.fillna("(missing)").value_counts().head(15).plot.barh(ax=left)
            (table.div(table.sum(1), axis=0)).head(15).plot.barh(stacked=True, ax=right)
        left.set_title(col)
        figures.append(_png(fig))
    for series, title in (
        (cleaned[TARGET].value_counts(), "target"),
        (cleaned.isna().mean(), "missing"),
        (pd.Series(association).sort_values(), "association"),
    ):
        fig, ax = plt.subplots(figsize=(7, 3))
        series.plot.barh(ax=ax)
        ax.set_title(title)
        figures.append(_png(fig))
    html = "<html><body>" + profile.to_html() + "".join(figures) + "</body></html>"
    (scratch / "eda.html").write_text(html)
    (scratch / "eda.md").write_text(profile.to_markdown() if hasattr(profile, "to_markdown") else profile.to_string())
    (scratch / "manifest.json").write_text(
        json.dumps({"hashes": hashes, "rows": {n: len(f) for n, f in parts.items()}})
    )
    for name, part in parts.items():
        part.to_parquet(scratch / f"{name}.parquet", index=False)


def _metrics(y, proba, pred) -> dict[str, float]:
    from sklearn import metrics as m

    return {
        "accuracy": m.accuracy_score(y, pred),
        "balanced_accuracy": m.balanced_accuracy_score(y, pred),
        "precision": m.precision_score(y, pred, zero_division=0),
        "recall": m.recall_score(y, pred, zero_division=0),
        "f1": m.f1_score(y, pred, zero_division=0),
        "roc_auc": m.roc_auc_score(y, proba) if 0 < y.sum() < len(y) else None,
        "log_loss": m.log_loss(y, proba, labels=[0, 1]),
        "brier": m.brier_score_loss(y, proba),
    }


def _evaluate(project: Path, scratch: Path) -> None:
    """Metrics of model and baseline, bootstrap intervals, slices, fairness, permutation importance, feature
    value (shuffle + paired bootstrap), curves, the staleness refits and the files, at the stage's sizes."""
    import numpy as np
    import pandas as pd
    from sklearn.base import clone
    from sklearn.calibration import calibration_curve
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_auc_score, roc_curve

    p = _params(project)
    ev, seed = p.evaluate, p.common.seed
    info = json.loads((project / "models/train.json").read_text())
    model, baseline = _load_model(project / "models/model.skops"), _load_model(project / "models/baseline.skops")
    processed = project / "data/processed"
    df = pd.read_parquet(processed / f"{ev.split}.parquet")
    df = df[df[TARGET].notna()].reset_index(drop=True)
    X, positive = to_frame(df, info), str(info["classes"][1])
    y = (df[TARGET].astype(str) == positive).to_numpy().astype(int)
    scored = {}
    for name, m in (("model", model), ("baseline", baseline)):
        proba = m.predict_proba(X)[:, 1]
        pred = (m.predict(X).astype(str) == positive).astype(int)
        scored[name] = (proba, pred, _metrics(y, proba, pred))
    proba, pred, _ = scored["model"]
    rng, n = np.random.default_rng(seed), len(y)
    rows = min(n, ev.bootstrap_rows)
    draws = [_metrics(y[i], proba[i], pred[i]) for i in (rng.integers(0, n, rows) for _ in range(ev.bootstrap))]
    intervals = (
        {
            k: list(np.nanquantile([d[k] if d[k] is not None else np.nan for d in draws], [0.025, 0.975]))
            for k in draws[0]
        }
        if draws
        else {}
    )
    slices = {}
    for column in [*ev.slices, *([ev.sensitive] if ev.sensitive else [])]:
        for level, idx in df.groupby(column).indices.items():
            if len(idx) >= ev.min_slice_size:
                slices[f"{column}={level}"] = _metrics(y[idx], proba[idx], pred[idx])
    sample = np.sort(rng.choice(n, min(n, ev.importance_rows), replace=False))
    labels = df[TARGET].astype(str).to_numpy()
    importance = permutation_importance(
        model,
        X.iloc[sample],
        labels[sample],
        scoring="roc_auc",
        n_repeats=ev.permutation_repeats,
        random_state=seed,
        n_jobs=1,
    )
    rows = np.sort(rng.choice(n, min(n, 5000), replace=False))  # feature value: one shuffle per feature
    Xv, yv, pv = X.iloc[rows], y[rows], proba[rows]
    value = {}
    for column in Xv.columns:
        shuffled = Xv.copy()
        shuffled[column] = rng.permutation(shuffled[column].to_numpy())
        permuted = model.predict_proba(shuffled)[:, 1]
        diffs = []
        for _ in range(min(ev.bootstrap, 100)):
            i = rng.integers(0, len(yv), len(yv))
            if 0 < yv[i].sum() < len(i):
                diffs.append(roc_auc_score(yv[i], pv[i]) - roc_auc_score(yv[i], permuted[i]))
        value[column] = list(np.quantile(diffs, [0.025, 0.975])) if diffs else None
    plots = {
        "roc": pd.DataFrame(dict(zip(("fpr", "tpr", "threshold"), roc_curve(y, proba), strict=True))),
        "precision_recall": pd.DataFrame(
            dict(zip(("precision", "recall"), precision_recall_curve(y, proba)[:2], strict=True))
        ),
        "calibration": pd.DataFrame(
            dict(zip(("fraction_positive", "mean_predicted"), calibration_curve(y, proba, n_bins=10), strict=True))
        ),
        "confusion": pd.DataFrame(confusion_matrix(y, pred)),
        "feature_importance": pd.DataFrame({"feature": X.columns, "importance": importance.importances_mean}),
    }
    # staleness: the same refits the stage made (its own record says which months and how many rows)
    curve = json.loads((project / "metrics/staleness.json").read_text())
    if curve.get("enabled"):
        col = ev.staleness.time_column
        wanted = [*(f["name"] for f in info["features"]), TARGET, f"{col}_year", f"{col}_month"]
        data = pd.concat(
            [
                pd.read_parquet(processed / f"{s}.parquet", columns=list(dict.fromkeys(wanted)))
                for s in ("train", "validation", "test")
            ],
            ignore_index=True,
        )
        data = data[data[TARGET].notna()]
        month = data[f"{col}_year"] * 12 + data[f"{col}_month"] - 1
        newest = month.max()
        scored_rows = data[month > newest - curve["period_months"]]
        scored_rows = scored_rows.sample(min(len(scored_rows), curve["scored_rows"]), random_state=seed)
        ys = (scored_rows[TARGET].astype(str) == positive).to_numpy()
        for point in curve["points"]:
            if point.get("value") is None:
                continue
            start, end = (int(v[:4]) * 12 + int(v[5:]) - 1 for v in (point["train_from"], point["train_to"]))
            window = data[(month >= start) & (month <= end)].tail(point["train_rows"])
            fitted = clone(model).fit(to_frame(window, info), window[TARGET].astype(str).to_numpy(dtype=object))
            roc_auc_score(ys, fitted.predict_proba(to_frame(scored_rows, info))[:, 1])
    out = {"metrics": {k: v[2] for k, v in scored.items()}, "intervals": intervals, "slices": slices, "value": value}
    (scratch / "evaluate.json").write_text(json.dumps(out, default=float))
    for name, frame in plots.items():
        frame.to_csv(scratch / f"{name}.csv", index=False)
    card = ["# Model card", "", pd.DataFrame(out["metrics"]).to_string(), pd.DataFrame(slices).T.to_string()]
    (scratch / "model_card.md").write_text("\n".join(card))


def _export(project: Path, scratch: Path) -> None:
    """Hash check of the train split, convert, onnx's checker, parity on the stage's sample, the files."""
    import numpy as np
    import onnx
    import pandas as pd

    p = _params(project)
    ex, seed = p.export, p.common.seed
    info = json.loads((project / "models/train.json").read_text())
    processed = project / "data/processed"
    train = pd.read_parquet(processed / "train.parquet")
    hashlib.sha256(pd.util.hash_pandas_object(train, index=False).values.tobytes()).hexdigest()
    seen = pd.concat([train, pd.read_parquet(processed / "validation.parquet")], ignore_index=True)
    schema = []  # the manifest's inputs: each numeric's range and missing values, each categorical's levels
    for f in info["features"]:
        col = seen[f["name"]]
        if f["kind"] == "numeric":
            schema.append([float(col.min()), float(col.max()), bool(col.isna().any())])
        else:
            schema.append(sorted(str(v) for v in col.dropna().unique()))
    check = pd.read_parquet(processed / f"{ex.parity_split}.parquet")
    if len(check) > ex.parity_rows:
        check = check.sample(ex.parity_rows, random_state=seed).sort_index()
    model, onx, out = _convert(project, info, check)
    onnx.checker.check_model(onx, full_check=True)
    X = to_frame(check, info)
    agree = float(np.mean(model.predict(X).astype(str) == np.asarray(out[0]).astype(str)))  # labels and scores
    worst = float(np.max(np.abs(model.predict_proba(X) - np.asarray(out[1]))))
    data = onx.SerializeToString()
    (scratch / "model.onnx").write_bytes(data)
    parity = {"rows": len(check), "max_abs_diff": worst, "label_agreement": agree}
    manifest = {"sha256": hashlib.sha256(data).hexdigest(), "inputs": schema, "parity": parity}
    (scratch / "model.json").write_text(json.dumps(manifest))


def main(level: str, step: str, project: Path) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="direct-"))
    try:
        (core if level == "core" else same)(step, project, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
