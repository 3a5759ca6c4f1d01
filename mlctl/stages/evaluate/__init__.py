"""`mlctl evaluate`: score the candidate and the baseline on the test split.

Writes DVC metrics (metrics/evaluate.json, intervals.json, slices.json), DVC
plot data (plots/*.csv) and the model card. Everything is computed before the
first file is written, so a failure leaves no partial output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlctl.core.errors import DataError
from mlctl.core.progress import NoProgress
from mlctl.model.features import Feature, to_model_frame
from mlctl.model.metrics import Scored, bootstrap, compute, score
from mlctl.stages.evaluate import curves, usefulness
from mlctl.stages.evaluate.result import EvaluateResult
from mlctl.stages.evaluate.slices import default_fairness_metric, fairness_gap, slice_metrics

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.core.progress import Progress
    from mlctl.core.project import Project
    from mlctl.params import Common
    from mlctl.params.evaluate import EvaluateParams

CONFIDENCE = 0.95
# plot file -> the columns it always has (an empty curve still gets its header)
PLOT_COLUMNS = {
    "confusion": ["actual", "predicted"],
    "roc": ["fpr", "tpr", "threshold"],
    "precision_recall": ["recall", "precision", "threshold"],
    "calibration": ["bin", "bin_low", "bin_high", "mean_predicted", "fraction_positive", "rows"],
    "predicted_vs_actual": ["actual", "predicted"],
    "residuals": ["predicted", "residual"],
    "feature_importance": ["feature", "importance", "std"],
    "staleness": ["age_periods", "age_days", "value"],
}


def importance_scoring(task: str, metrics: dict[str, float | None], n_classes: int, has_proba: bool) -> str:
    """The scikit-learn scorer permutation importance uses: the primary metric when it is defined."""
    if task == "regression":
        return "r2" if metrics["r2"] is not None else "neg_mean_absolute_error"
    if has_proba and metrics["roc_auc"] is not None:
        return "roc_auc" if n_classes == 2 else "roc_auc_ovr"
    return "accuracy"


def labelled_rows(df: pd.DataFrame, target: str, split: str) -> pd.DataFrame:
    """The rows of a split that have a label: the rows every model is scored on."""
    if target not in df.columns:
        raise DataError(f"target column {target!r} is not in the {split} split", where=target)
    labelled = df[df[target].notna()]
    if len(labelled) == 0:
        raise DataError(
            f"the {split} split has no labelled rows: nothing to evaluate",
            where=split,
            hint="check prepare.split sizes and that the target column has values",
        )
    return labelled


def score_rows(
    model: Any, labelled: pd.DataFrame, info: dict[str, Any], classes: list[Any] | None = None
) -> tuple[pd.DataFrame, Scored]:
    """The model frame of ``labelled`` for the features in ``info`` (train.json) and the model's scores on it.

    ``classes`` lines the outputs up with another model's labels (default: the model's own).
    """
    features = [Feature(f["name"], f["kind"]) for f in info["features"]]
    X = to_model_frame(labelled, features)
    labels = classes if classes is not None else info.get("classes")
    return X, score(model, X, labelled[info["target"]], info["task"], labels)


FEATURE_VALUE_ROWS, FEATURE_VALUE_RESAMPLES = 5000, 100  # bounds: one shuffle and predict per feature


def feature_value(
    model: Any, X: Any, y: Any, scored: Scored, values: dict[str, float | None], resamples: int, seed: int
) -> dict[str, Any]:
    """Permutation importance intervals on at most FEATURE_VALUE_ROWS test rows and FEATURE_VALUE_RESAMPLES."""
    import numpy as np

    if len(X) > FEATURE_VALUE_ROWS:
        idx = np.sort(np.random.default_rng(seed).choice(len(X), FEATURE_VALUE_ROWS, replace=False))
        X, y, scored = X.iloc[idx], y.iloc[idx], scored.take(idx)
    metric = usefulness.primary(scored.task, values)
    return usefulness.feature_value(
        model, X, y, scored, metric, min(resamples, FEATURE_VALUE_RESAMPLES), seed, CONFIDENCE
    )


def evaluate_frame(
    model: Any,
    baseline: Any,
    df: pd.DataFrame,
    info: dict[str, Any],
    params: EvaluateParams,
    seed: int,
    progress: Progress | None = None,
) -> EvaluateResult:
    """The pure core: metrics, intervals, slices, fairness and plot data for one split."""
    progress = progress or NoProgress()
    task, target = info["task"], info["target"]
    labelled = labelled_rows(df, target, params.split)
    progress.start("evaluate", total=4)
    X, model_scored = score_rows(model, labelled, info)
    y = labelled[target]
    _, base_scored = score_rows(baseline, labelled, info)
    (model_values, model_why), (base_values, base_why) = compute(model_scored), compute(base_scored)
    progress.advance()
    intervals = bootstrap(model_scored, params.bootstrap, seed, CONFIDENCE, max_rows=params.bootstrap_rows)
    progress.advance()
    slices = slice_metrics(labelled, model_scored, params.slices, params.min_slice_size)
    fairness = None
    if params.sensitive:
        metric = params.fairness_metric or default_fairness_metric(task)
        fairness = fairness_gap(labelled, model_scored, params.sensitive, metric, params.min_slice_size)
    progress.advance()
    n_classes = len(model_scored.classes)
    scoring = importance_scoring(task, model_values, n_classes, model_scored.is_proba)
    importance = curves.permutation_importance(
        model, X, y, scoring, params.permutation_repeats, seed, max_rows=params.importance_rows
    )
    value = feature_value(model, X, y, model_scored, model_values, params.bootstrap, seed)
    notes, plots = [], {"feature_importance": importance}
    if task == "classification":
        plots["confusion"] = curves.confusion(model_scored, params.plot_rows, seed)
        for name, fn in (("roc", curves.roc), ("precision_recall", curves.precision_recall)):
            plots[name], note = fn(model_scored)
            notes += [note] if note else []
        plots["calibration"], note = curves.calibration(model_scored)
        notes += [note] if note else []
    else:
        plots["predicted_vs_actual"] = curves.predicted_vs_actual(model_scored, seed)
        plots["residuals"] = curves.residuals(model_scored, seed)
    progress.advance()
    progress.done()
    return EvaluateResult(
        task=task,
        split=params.split,
        rows=len(labelled),
        metrics={"model": model_values, "baseline": base_values},
        undefined={"model": model_why, "baseline": base_why},
        intervals=intervals,
        slices=slices,
        fairness=fairness,
        importance=importance,
        importance_scoring=scoring,
        feature_value=value,
        notes=notes,
        rows_dropped=len(df) - len(labelled),
        plots=plots,
        sampling=sampling(len(labelled), params, task),
    )


def sampling(rows: int, params: EvaluateParams, task: str) -> dict[str, Any]:
    """How many rows each measurement used: all of them, or its cap (a seeded sample)."""
    used = {
        "rows": rows,
        "bootstrap_rows": min(rows, params.bootstrap_rows),
        "importance_rows": min(rows, params.importance_rows),
    }
    if task == "classification":
        used["confusion_rows"] = min(rows, params.plot_rows)
    used["capped"] = sorted(k for k, v in used.items() if k != "rows" and v < rows)
    return used


def load_training(project: Project, model_dir: str) -> tuple[Any, Any, dict[str, Any]]:
    """The fitted model, the baseline and train.json's summary from `mlctl train`."""
    from mlctl.core.errors import InputNotFoundError
    from mlctl.core.fileio import load_skops, read_json

    directory = project.path(model_dir, what="model directory")
    hint = "run `mlctl train` (or `dvc repro train`) first"
    for name in ("model.skops", "baseline.skops", "train.json"):
        if not (directory / name).exists():
            raise InputNotFoundError(f"{name} not found", where=project.rel(directory / name), hint=hint)
    return (
        load_skops(directory / "model.skops"),
        load_skops(directory / "baseline.skops"),
        read_json(directory / "train.json"),
    )


def split_path(project: Project, params: EvaluateParams, split: str) -> Any:
    """The Parquet file of one split written by `mlctl prepare`."""
    return project.path(f"{params.input_dir}/{split}.parquet", what="split file")


def staleness_of(
    project: Project, params: EvaluateParams, model: Any, info: dict[str, Any], result: EvaluateResult, seed: int
) -> dict[str, Any]:
    """The staleness curve over every split `mlctl prepare` wrote (off without a time column)."""
    from mlctl.core.fileio import read_tables
    from mlctl.stages.evaluate import staleness

    s = params.staleness
    if not s.time_column:
        return staleness.off("no time column (evaluate.staleness.time_column)")
    model_values = result.metrics["model"]
    metric = s.metric or (
        "r2" if result.task == "regression" else "roc_auc" if model_values.get("roc_auc") is not None else "f1"
    )
    paths = [p for p in (split_path(project, params, name) for name in ("train", "validation", "test")) if p.exists()]
    wanted = [*(f["name"] for f in info["features"]), info["target"], *staleness.period_columns(s.time_column)]
    return staleness.curve(model, read_tables(paths, list(dict.fromkeys(wanted))), info, s, metric, seed)


def run(params: EvaluateParams, common: Common, project: Project, progress: Progress | None = None) -> EvaluateResult:
    """Evaluate the trained model on ``params.split`` and write metrics, plots and the model card."""
    from mlctl.core.errors import InputNotFoundError
    from mlctl.core.fileio import read_table, write_json, write_table, write_text
    from mlctl.stages.evaluate import model_card

    model, baseline, info = load_training(project, params.model_dir)
    path = split_path(project, params, params.split)
    if not path.exists():
        raise InputNotFoundError(
            f"{params.split} split not found", where=project.rel(path), hint="run `mlctl prepare` first"
        )
    df = read_table(path)
    result = evaluate_frame(model, baseline, df, info, params, common.seed, progress)
    result.staleness = staleness_of(project, params, model, info, result, common.seed)
    result.plots["staleness"] = [p for p in result.staleness["points"] if p["value"] is not None]
    card = model_card.render(result, info, model_card.split_summary(project, params, info), params)

    metrics_dir = project.path(params.metrics_dir, what="metrics directory")
    plots_dir = project.path(params.plots_dir, what="plots directory")
    card_path = project.path(params.model_card, what="model card")
    evaluate_json = {**result.metrics, "rows": result.rows, "undefined": result.undefined}
    intervals_json = {"confidence": CONFIDENCE, "resamples": params.bootstrap, "seed": common.seed}
    # rows each measurement used (numbers only: DVC reads this file as metrics); bootstrap_rows < rows:
    # m-out-of-n resamples, rescaled to the split's size
    intervals_json["sampling"] = {k: v for k, v in result.sampling.items() if isinstance(v, int)}
    intervals_json["model"] = result.intervals
    slices_json = {**result.slices, "fairness": result.fairness}
    written = [
        write_json(metrics_dir / "evaluate.json", evaluate_json),
        write_json(metrics_dir / "intervals.json", intervals_json),
        write_json(metrics_dir / "slices.json", slices_json),
        write_json(metrics_dir / "staleness.json", result.staleness),
        write_json(metrics_dir / "features.json", result.feature_value),
    ]
    import pandas as pd

    for name, records in result.plots.items():
        frame = pd.DataFrame(records, columns=PLOT_COLUMNS[name])
        written.append(write_table(frame, plots_dir / f"{name}.csv"))
    written.append(write_text(card_path, card))
    result.files = [project.rel(p) for p in written]
    return result
