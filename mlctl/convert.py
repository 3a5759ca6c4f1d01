"""Convert a fitted scikit-learn pipeline to ONNX and describe it in a manifest."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from mlctl.errors import ModelError
from mlctl.features import Feature

if TYPE_CHECKING:
    import pandas as pd


def input_types(features: list[Feature]) -> list[tuple[str, Any]]:
    """skl2onnx initial types: one [None, 1] input per feature, float or string."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [(f.name, FloatTensorType([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1])) for f in features]


def to_onnx(pipeline: Any, features: list[Feature], *, opset: int | None = None, name: str = "model"):
    """Return the ONNX ModelProto of ``pipeline``; a failure names the estimator and an alternative."""
    from skl2onnx import convert_sklearn

    estimator = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    try:
        return convert_sklearn(
            pipeline,
            name=name,
            initial_types=input_types(features),
            options=options,
            target_opset=opset,
        )
    except Exception as exc:  # skl2onnx raises many types; users get one clear message
        est = type(estimator).__name__
        raise ModelError(
            f"skl2onnx cannot convert {est}: {str(exc).splitlines()[0][:200]}",
            hint="choose a convertible estimator in train.candidates, e.g. random_forest or logistic_regression",
        ) from None


def input_schema(X: pd.DataFrame, features: list[Feature]) -> list[dict]:
    """The manifest's input schema from the training frame (already in model-frame form)."""
    from mlctl.features import MISSING_CATEGORY

    schema = []
    for f in features:
        col = X[f.name]
        entry: dict[str, Any] = {"name": f.name, "kind": f.kind}
        if f.kind == "numeric":
            entry["onnx_type"] = "tensor(float)"
            entry["nullable"] = bool(col.isna().any())
            entry["min"] = float(col.min()) if col.notna().any() else None
            entry["max"] = float(col.max()) if col.notna().any() else None
        else:
            entry["onnx_type"] = "tensor(string)"
            entry["nullable"] = bool((col == MISSING_CATEGORY).any())
            entry["categories"] = sorted(str(v) for v in col.unique() if v != MISSING_CATEGORY)
        schema.append(entry)
    return schema


def build_manifest(
    onnx_bytes: bytes,
    *,
    name: str,
    task: str,
    target: str,
    features: list[Feature],
    X_train: pd.DataFrame,
    classes: list | None,
    opset: int,
    extra: dict | None = None,
) -> dict:
    """The manifest (models/model.json) that serving, batch and the edge runner trust."""
    from mlctl.runtime import sha256_bytes

    digest = sha256_bytes(onnx_bytes)
    manifest = {
        "name": name,
        "version": digest[:12],
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "task": task,
        "target": target,
        "classes": [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else None,
        "sha256": digest,
        "onnx_file": f"{name}.onnx",
        "opset": opset,
        "inputs": input_schema(X_train, features),
        "outputs": (
            [{"name": "label", "type": "labels"}, {"name": "probabilities", "type": "class probabilities"}]
            if task == "classification"
            else [{"name": "variable", "type": "values"}]
        ),
    }
    manifest.update(extra or {})
    return manifest
