"""Our registration of skl2onnx converters that do not work as shipped.

HistGradientBoosting (skl2onnx 1.20, onnx 1.23): skl2onnx's tree walker
(`add_tree_to_attribute_pairs_hist_gradient_boosting`) records
``nodes_missing_value_tracks_true`` as the node's numpy ``missing_go_to_left``
for splits but as a Python ``False`` for leaves. The list therefore mixes
integers and booleans, and the protobuf runtime behind onnx 1.23 refuses a
bool in an ``ints`` attribute ("Expected an int, got a boolean"), so every
HistGradientBoosting model fails in ``make_node('TreeEnsembleClassifier')``.
The target opset does not matter: the attribute exists in ai.onnx.ml 1 to 3.

Our converter wraps skl2onnx's own: it hands it a container whose ``add_node``
turns booleans in integer lists into 0/1, and it rebuilds the split
thresholds so that float32 inputs branch exactly as scikit-learn's float64
comparison does (skl2onnx rounds HistGradientBoosting thresholds to nearest,
which can send a value equal to the rounded threshold the wrong way; for
other trees it already rounds down, see ``adjust_threshold_for_sklearn``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_REGISTERED = False
_TREE_OPS = {"TreeEnsembleClassifier", "TreeEnsembleRegressor"}


def float32_threshold(threshold: float) -> np.float32:
    """The largest float32 ``t`` with ``x <= t`` ⇔ ``x <= threshold`` for every float32 ``x``."""
    t = np.float32(threshold)
    if np.isfinite(t) and float(t) > threshold:
        t = np.nextafter(t, np.float32(-np.inf))
    return t


def hist_thresholds(model: Any) -> np.ndarray:
    """Split thresholds of every node, in the order skl2onnx walks the trees (0 for leaves)."""
    values = []
    for iteration in model._predictors:
        for tree in iteration:
            nodes = tree.nodes
            if nodes["is_categorical"].any():
                from mlctl.core.errors import ModelError

                raise ModelError(
                    f"{type(model).__name__} with native categorical splits cannot be exported to ONNX",
                    hint="leave categorical_features unset: the pipeline one-hot or ordinal encodes categoricals",
                )
            leaf = nodes["is_leaf"].astype(bool)
            thresholds = nodes["num_threshold"].astype(np.float64)
            values.extend(
                0.0 if is_leaf else float(float32_threshold(t)) for t, is_leaf in zip(thresholds, leaf, strict=True)
            )
    return np.asarray(values, dtype=np.float32)


class _FixedContainer:
    """A converter container passing everything through except the tree attributes fixed above."""

    def __init__(self, container: Any, thresholds: np.ndarray):
        self._container = container
        self._thresholds = thresholds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(self, op_type, inputs, outputs, op_domain="", op_version=None, name=None, **attrs):
        for key, value in attrs.items():
            if isinstance(value, list) and any(isinstance(v, (bool, np.bool_)) for v in value):
                attrs[key] = [int(v) for v in value]
        if op_type in _TREE_OPS and len(attrs.get("nodes_values", ())) == len(self._thresholds):
            attrs["nodes_values"] = self._thresholds
        return self._container.add_node(
            op_type, inputs, outputs, op_domain=op_domain, op_version=op_version, name=name, **attrs
        )


def _wrap(convert):
    def converter(scope, operator, container):
        fixed = _FixedContainer(container, hist_thresholds(operator.raw_operator))
        return convert(scope, operator, fixed)

    converter.__name__ = f"mlctl_{convert.__name__}"
    return converter


def register() -> None:
    """Register the fixed converters once per process (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from skl2onnx import update_registered_converter
    from skl2onnx.common._registration import get_converter, get_shape_calculator
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    for cls in (HistGradientBoostingClassifier, HistGradientBoostingRegressor):
        alias = f"Sklearn{cls.__name__}"
        registered = get_converter(alias)
        update_registered_converter(
            cls,
            alias,
            get_shape_calculator(alias),
            _wrap(registered._fct),
            options=registered.get_allowed_options(),
        )
    _REGISTERED = True
