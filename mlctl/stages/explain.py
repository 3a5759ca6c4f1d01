"""`mlctl explain`: follow one example through the fitted pipeline, step by step, and compare with ONNX.

For debugging a single prediction: what each preprocessing step made of the
row (with scikit-learn's generated feature names), the final feature vector,
the prediction and class scores, and the exported ONNX model's answer for
the same row, which must agree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError, DataError
from mlctl.core.project import Project

if TYPE_CHECKING:
    import pandas as pd

    from mlctl.model.features import Feature
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.params import Common
    from mlctl.params.export import ExportParams


@dataclass
class Step:
    """One preprocessing step's output for the row."""

    name: str  # e.g. "preprocess/numeric/impute"
    features: list[str]
    values: list[Any]

    def to_dict(self) -> dict:
        return {"name": self.name, "features": self.features, "values": self.values}


@dataclass
class Explanation:
    """One row's way through the pipeline, and the ONNX model's answer for it."""

    source: str  # where the row came from
    inputs: list[dict]  # name, kind, raw value, model-frame value
    steps: list[Step]
    feature_vector: Step
    prediction: Any
    scores: dict[str, float] | None  # per class (probabilities or decision scores)
    scores_kind: str | None
    onnx: dict | None = None  # prediction, scores, agree, max_abs_diff, warnings
    estimator: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def agree(self) -> bool | None:
        return None if self.onnx is None else bool(self.onnx["agree"])

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "estimator": self.estimator,
            "inputs": self.inputs,
            "steps": [s.to_dict() for s in self.steps],
            "feature_vector": self.feature_vector.to_dict(),
            "prediction": self.prediction,
            "scores_kind": self.scores_kind,
            "scores": self.scores,
            "onnx": self.onnx,
            "warnings": self.warnings,
        }


def _plain(v: Any) -> Any:
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v


def _row_values(arr: Any) -> list[Any]:
    import numpy as np

    if hasattr(arr, "toarray"):
        arr = arr.toarray()
    return [_plain(v) for v in np.asarray(arr, dtype=object)[0].tolist()]


def _names(est: Any, input_names: list[str], width: int) -> list[str]:
    try:
        return [str(n) for n in est.get_feature_names_out(input_names)]
    except Exception:  # a step without feature names: number the columns
        return [f"x{i}" for i in range(width)]


def trace(pipeline: Any, X: pd.DataFrame) -> tuple[list[Step], Step]:
    """Each preprocessing step's output for the (one-row) model frame, and the final feature vector."""
    steps: list[Step] = []
    current: Any = X
    names = list(X.columns)
    for step_name, est in getattr(pipeline, "steps", [])[:-1]:
        if est is None or est == "passthrough":
            continue
        if hasattr(est, "transformers_"):  # ColumnTransformer: each named transformer on its columns
            for t_name, trans, cols in est.transformers_:
                if isinstance(trans, str):  # 'drop' or 'passthrough' remainder
                    continue
                cols = list(cols) if not isinstance(cols, str) else [cols]
                sub, sub_names = current[cols], cols
                inner = trans.steps if hasattr(trans, "steps") else [(None, trans)]
                for inner_name, inner_est in inner:
                    sub = inner_est.transform(sub)
                    sub_names = _names(inner_est, sub_names, sub.shape[1])
                    label = "/".join(p for p in (step_name, t_name, inner_name) if p)
                    steps.append(Step(label, [f"{t_name}__{n}" for n in sub_names], _row_values(sub)))
        current = est.transform(current)
        names = _names(est, names, current.shape[1])
        steps.append(Step(step_name, names, _row_values(current)))
    final = steps[-1] if steps else Step("input", names, _row_values(X))
    return steps, Step("feature vector", final.features, final.values)


def _scores(pipeline: Any, X: pd.DataFrame) -> tuple[dict[str, float] | None, str | None]:
    from mlctl.onnxmodel.parity import sklearn_outputs

    _, scores, kind = sklearn_outputs(pipeline, X)
    if scores is None or kind == "values":
        return None, None
    classes = [str(c) for c in pipeline.classes_]
    names = classes if scores.shape[1] == len(classes) else classes[-scores.shape[1] :]
    return {n: float(v) for n, v in zip(names, scores[0], strict=True)}, kind


def compare_onnx(model: OnnxModel, pipeline: Any, X: pd.DataFrame, tolerance: float) -> dict:
    """The ONNX model's prediction for the row, and whether it agrees with scikit-learn's."""
    from mlctl.onnxmodel.parity import compare, feeds_for

    checked = feeds_for(model, X)
    pred = model.run(checked.feeds)
    parity = compare(pipeline, model, X, tolerance=tolerance, label_agreement=1.0)
    scores = None
    if pred.probabilities is not None:
        classes = [str(c) for c in (model.classes or pipeline.classes_)]
        row = [float(v) for v in pred.probabilities[0]]
        names = classes if len(row) == len(classes) else classes[-len(row) :]
        scores = dict(zip(names, row, strict=True))
    return {
        "prediction": _plain(pred.labels[0]),
        "scores": scores,
        "agree": parity.passed,
        "max_abs_diff": parity.max_abs_diff,
        "tolerance": tolerance,
        "version": model.version,
        "serving_would_reject": checked.reasons.get(0, []),
    }


def explain_row(
    pipeline: Any,
    features: list[Feature],
    raw: pd.DataFrame,
    *,
    source: str,
    model: OnnxModel | None = None,
    tolerance: float = 1e-4,
) -> Explanation:
    """The pure core: explain the single row of ``raw`` (a one-row DataFrame)."""
    from mlctl.model.features import to_model_frame
    from mlctl.onnxmodel.parity import sklearn_outputs

    X = to_model_frame(raw, features)
    inputs = [
        {"name": f.name, "kind": f.kind, "raw": _plain(raw[f.name].iloc[0]), "model_value": _plain(X[f.name].iloc[0])}
        for f in features
    ]
    steps, vector = trace(pipeline, X)
    labels, _, _ = sklearn_outputs(pipeline, X)
    scores, kind = _scores(pipeline, X)
    estimator = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    result = Explanation(
        source, inputs, steps, vector, _plain(labels[0]), scores, kind, estimator=type(estimator).__name__
    )
    if model is not None:
        result.onnx = compare_onnx(model, pipeline, X, tolerance)
        for reason in result.onnx["serving_would_reject"]:
            result.warnings.append(f"outside the model's input schema: {reason}")
    return result


def parse_record(text: str, features: list[Feature]) -> pd.DataFrame:
    """A JSON object of feature values → a one-row frame; unknown or missing keys are errors."""
    import pandas as pd

    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--json-input is not valid JSON: {exc}", where="--json-input") from None
    if not isinstance(record, dict):
        raise ConfigError("--json-input must be a JSON object of feature values", where="--json-input")
    names = [f.name for f in features]
    extra = sorted(set(record) - set(names))
    missing = [n for n in names if n not in record]
    if extra or missing:
        problems = ([f"unknown {extra}"] if extra else []) + ([f"missing {missing}"] if missing else [])
        raise DataError(
            f"features do not match the model: {'; '.join(problems)}",
            where="--json-input",
            hint=f"the model takes {names} (use null for a missing value)",
        )
    for f in features:
        value = record[f.name]
        if f.kind == "numeric" and value is not None and not isinstance(value, (int, float)):
            raise DataError(f"feature {f.name!r} is numeric, got {value!r}", where="--json-input")
    return pd.DataFrame([{n: record[n] for n in names}])


def pick_row(df: pd.DataFrame, row: int, where: str) -> pd.DataFrame:
    """Row ``row`` (0-based position) of ``df`` as a one-row frame."""
    if not 0 <= row < len(df):
        raise ConfigError(f"--row {row} is out of range: {where} has {len(df)} rows (0 to {len(df) - 1})", where=where)
    return df.iloc[[row]]


def run(
    params: ExportParams,
    common: Common,
    project: Project,
    *,
    row: int | None = None,
    json_input: str | None = None,
    input_path: Path | None = None,
) -> Explanation:
    """Explain one row: --row N of the test split, --json-input, or --input FILE --row N."""
    from mlctl.core.fileio import read_table
    from mlctl.onnxmodel.runtime import OnnxModel
    from mlctl.stages.export import load_trained

    if (json_input is None) == (row is None):
        raise ConfigError("give either --row N or --json-input '{...}'", hint="e.g. `mlctl explain --row 0`")
    trained = load_trained(project, params, common)
    if json_input is not None:
        if input_path is not None:
            raise ConfigError("--input goes with --row, not with --json-input")
        raw, source = parse_record(json_input, trained.features), "--json-input"
    else:
        path = (
            Path(input_path) if input_path else project.path(Path(params.input_dir) / f"{params.parity_split}.parquet")
        )
        where = project.rel(path)
        raw, source = pick_row(read_table(path), int(row), where), f"{where}, row {row}"
    onnx_path = project.path(params.output, what="export.output")
    model = (
        OnnxModel.load(onnx_path, project.path(params.manifest, what="export.manifest")) if onnx_path.exists() else None
    )
    return explain_row(trained.pipeline, trained.features, raw, source=source, model=model, tolerance=params.tolerance)
