"""Convert a fitted scikit-learn pipeline to ONNX and describe it in a manifest."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ModelError
from mlctl.model.features import Feature

if TYPE_CHECKING:
    import pandas as pd

# Meta-estimators that skl2onnx converts by converting what they hold.
_CONTAINERS = ("Pipeline", "ColumnTransformer", "FeatureUnion")
METADATA_PREFIX = "mlctl."


def input_types(features: list[Feature]) -> list[tuple[str, Any]]:
    """skl2onnx initial types: one [None, 1] input per feature, float or string."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [
        (f.name, FloatTensorType([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1])) for f in features
    ]


def final_estimator(pipeline: Any) -> Any:
    """The model at the end of a Pipeline (or the object itself)."""
    return pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline


def unsupported_steps(obj: Any) -> list[str]:
    """Class names inside ``obj`` that skl2onnx has no converter for."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    if isinstance(obj, str) or obj is None:  # 'drop' / 'passthrough' in a ColumnTransformer
        return []
    found = [] if type(obj) in sklearn_operator_name_map else [type(obj).__name__]
    if type(obj).__name__ in _CONTAINERS:
        found = []
        children = getattr(obj, "steps", None) or getattr(obj, "transformers_", None) or obj.transformer_list
        for child in children:
            found += unsupported_steps(child[1])
    return found


def _alternatives(task: str) -> str:
    from mlctl.model.estimators import REGISTRY

    names = [n for n, s in REGISTRY.items() if (s.classifier if task == "classification" else s.regressor)]
    return ", ".join(names)


def to_onnx(pipeline: Any, features: list[Feature], *, opset: int | None = None, name: str = "model"):
    """Return the ONNX ModelProto of ``pipeline``; a failure names the estimator and an alternative."""
    from skl2onnx import convert_sklearn

    from mlctl.stages.export import onnx_fixes

    onnx_fixes.register()
    estimator = final_estimator(pipeline)
    task = "classification" if hasattr(estimator, "classes_") else "regression"
    hint = f"choose a convertible estimator in train.candidates, e.g. one of: {_alternatives(task)}"
    bad = unsupported_steps(pipeline)
    if bad:
        raise ModelError(f"skl2onnx has no ONNX converter for {', '.join(dict.fromkeys(bad))}", hint=hint)
    # Only classifiers with predict_proba take the zipmap option; without it the
    # probabilities come out as a plain [rows, classes] tensor.
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    try:
        model = convert_sklearn(
            pipeline, name=name, initial_types=input_types(features), options=options, target_opset=opset
        )
    except ModelError:
        raise
    except Exception as exc:  # skl2onnx raises many types; users get one clear message
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"skl2onnx cannot convert {type(estimator).__name__}: {first}", hint=hint) from None
    _fix_binary_scores(model, estimator)
    return model


def _fix_binary_scores(model: Any, estimator: Any) -> None:
    """Declare the real [rows, 1] shape of a binary decision score (e.g. RidgeClassifier).

    skl2onnx declares [rows, 2] but computes one score column, and onnxruntime
    then warns on every call that the output's shape does not match.
    """
    if not hasattr(estimator, "classes_") or hasattr(estimator, "predict_proba") or len(estimator.classes_) != 2:
        return
    if len(model.graph.output) > 1:
        dims = model.graph.output[1].type.tensor_type.shape.dim
        if len(dims) == 2:
            dims[1].dim_value = 1


def scores_kind(pipeline: Any) -> str | None:
    """What the classifier's second output holds: 'probabilities', 'decision scores' or None."""
    estimator = final_estimator(pipeline)
    if not hasattr(estimator, "classes_"):
        return None
    return "probabilities" if hasattr(estimator, "predict_proba") else "decision scores"


def set_metadata(model: Any, props: dict[str, Any]) -> None:
    """Store ``props`` in the model's metadata_props (non-strings as JSON), replacing old keys."""
    keep = [(p.key, p.value) for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    for key, value in [*keep, *props.items()]:
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value, default=str)


def opset_imports(model: Any) -> dict[str, int]:
    """Operator set versions the model needs, by domain ('ai.onnx' for the default)."""
    return {(imp.domain or "ai.onnx"): int(imp.version) for imp in model.opset_import}


def output_schema(model: Any, kind: str | None) -> list[dict]:
    """Name, ONNX type and shape of each model output, plus what it means."""
    from onnx import helper

    meanings = ["labels" if kind else "values", kind]
    outputs = []
    for i, out in enumerate(model.graph.output):
        tensor = out.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        outputs.append(
            {
                "name": out.name,
                "onnx_type": f"tensor({helper.tensor_dtype_to_np_dtype(tensor.elem_type).name})".replace(
                    "object", "string"
                ),
                "shape": shape,
                "type": meanings[i] if i < len(meanings) else None,
            }
        )
    return outputs


def input_schema(X: pd.DataFrame, features: list[Feature]) -> list[dict]:
    """The manifest's input schema from the training rows (raw or in model-frame form: the same schema).

    The model-frame encoding is value by value, so a categorical column's levels are those of its
    distinct raw values encoded; only numerics are converted whole (their range and missing values).
    """
    import pandas as pd

    from mlctl.model.features import MISSING_CATEGORY, to_model_frame

    schema = []
    for f in features:
        if f.kind == "numeric":
            col = to_model_frame(X[[f.name]], [f])[f.name]
        else:  # 800k rows of train + validation at 1M: encoding the distinct values, not every row
            col = to_model_frame(pd.DataFrame({f.name: X[f.name].unique()}), [f])[f.name]
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
    version: str | None = None,
    onnx_file: str | None = None,
    outputs: list[dict] | None = None,
    extra: dict | None = None,
) -> dict:
    """The manifest (models/model.json) that serving, batch and the edge runner trust."""
    from mlctl.onnxmodel.manifest import SCHEMA_VERSION, Manifest
    from mlctl.onnxmodel.runtime import sha256_bytes

    digest = sha256_bytes(onnx_bytes)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "version": version or digest[:12],
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "task": task,
        "target": target,
        "classes": [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else None,
        "sha256": digest,
        "onnx_file": onnx_file or f"{name}.onnx",
        "opset": opset,
        "inputs": input_schema(X_train, features),
        "outputs": outputs
        or (
            [{"name": "label", "type": "labels"}, {"name": "probabilities", "type": "class probabilities"}]
            if task == "classification"
            else [{"name": "variable", "type": "values"}]
        ),
    }
    manifest.update(extra or {})
    return Manifest.parse(manifest, "the exported manifest").to_dict()


def write_onnx_model(
    pipeline: Any,
    features: list[Feature],
    dest: Path,
    *,
    task: str,
    target: str,
    X_train: pd.DataFrame,
    name: str = "model",
    extra: dict | None = None,
) -> tuple[Path, Path, dict]:
    """Convert a fitted pipeline and write ``<name>.onnx`` then its manifest ``<name>.json`` into ``dest``.

    A servable model without `mlctl export`'s parity check and metadata: for
    tests, benchmarks and tools. Returns (model path, manifest path, manifest).
    """
    from mlctl.core.fileio import write_bytes, write_json

    proto = to_onnx(pipeline, features, name=name)
    data = proto.SerializeToString()
    classes = list(pipeline.classes_) if task == "classification" else None
    manifest = build_manifest(
        data,
        name=name,
        task=task,
        target=target,
        features=features,
        X_train=X_train,
        classes=classes,
        opset=opset_imports(proto)["ai.onnx"],
        extra=extra,
    )
    model_path, manifest_path = Path(dest) / f"{name}.onnx", Path(dest) / f"{name}.json"
    write_bytes(model_path, data)
    write_json(manifest_path, manifest)  # last: a manifest always describes a complete model file
    return model_path, manifest_path, manifest
