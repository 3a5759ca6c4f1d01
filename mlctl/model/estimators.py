"""The estimator registry and the model pipeline built from column types and params.

Every estimator offered here converts to ONNX with skl2onnx (tested for each
one in tests/test_export.py); a name that is not here is a config error.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlctl.core.errors import ConfigError
from mlctl.model.features import Feature

if TYPE_CHECKING:
    from mlctl.params.train import PreprocessParams


@dataclass(frozen=True)
class Spec:
    """How to build one estimator for each task, and its default search space."""

    classifier: str | None  # "module:Class"
    regressor: str | None
    space: dict[str, list] = field(default_factory=dict)
    scale: bool = True  # distance/gradient-based models need scaled inputs; trees do not
    seeded: bool = True  # takes random_state
    # False: NaN reaches the model, which learns where missing values go (and ONNX sends them there).
    # An imputed float64 statistic is a point mass the model splits exactly on, and ONNX imputes its
    # float32 rounding: on large data some rows then take the other branch.
    impute: bool = True


REGISTRY: dict[str, Spec] = {
    "logistic_regression": Spec(
        "sklearn.linear_model:LogisticRegression", None, {"C": [0.01, 0.1, 1.0, 10.0]}, seeded=True
    ),
    "linear_regression": Spec(None, "sklearn.linear_model:LinearRegression", {}, seeded=False),
    "ridge": Spec("sklearn.linear_model:RidgeClassifier", "sklearn.linear_model:Ridge", {"alpha": [0.1, 1.0, 10.0]}),
    "random_forest": Spec(
        "sklearn.ensemble:RandomForestClassifier",
        "sklearn.ensemble:RandomForestRegressor",
        {"n_estimators": [100, 200], "max_depth": [None, 8, 16], "min_samples_leaf": [1, 3, 5]},
        scale=False,
    ),
    "gradient_boosting": Spec(
        "sklearn.ensemble:GradientBoostingClassifier",
        "sklearn.ensemble:GradientBoostingRegressor",
        {"n_estimators": [100, 200], "learning_rate": [0.05, 0.1], "max_depth": [2, 3]},
        scale=False,
    ),
    "hist_gradient_boosting": Spec(
        "sklearn.ensemble:HistGradientBoostingClassifier",
        "sklearn.ensemble:HistGradientBoostingRegressor",
        {"max_iter": [100, 200], "learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31]},
        scale=False,
        impute=False,
    ),
    "knn": Spec(
        "sklearn.neighbors:KNeighborsClassifier",
        "sklearn.neighbors:KNeighborsRegressor",
        {"n_neighbors": [5, 15, 31], "weights": ["uniform", "distance"]},
        seeded=False,
    ),
}

BASELINES = {"classification": "sklearn.dummy:DummyClassifier", "regression": "sklearn.dummy:DummyRegressor"}


def _load(path: str) -> type:
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def spec(name: str, task: str) -> Spec:
    """The registry entry for ``name``, checked to exist for ``task``."""
    if name not in REGISTRY:
        near = difflib.get_close_matches(name, REGISTRY, n=1)
        raise ConfigError(
            f"unknown model {name!r}",
            where="params.yaml: train.candidates",
            hint=(f"did you mean {near[0]!r}? " if near else "") + f"known models: {', '.join(REGISTRY)}",
        )
    entry = REGISTRY[name]
    if (entry.classifier if task == "classification" else entry.regressor) is None:
        valid = [n for n, s in REGISTRY.items() if (s.classifier if task == "classification" else s.regressor)]
        raise ConfigError(
            f"model {name!r} does not do {task}",
            where="params.yaml: train.candidates",
            hint=f"for {task} use one of: {', '.join(valid)}",
        )
    return entry


def make_estimator(name: str, task: str, seed: int, **params: Any) -> Any:
    """Instantiate a registry estimator, seeded when it takes a random_state."""
    entry = spec(name, task)
    cls = _load(entry.classifier if task == "classification" else entry.regressor)  # type: ignore[arg-type]
    kwargs = {"random_state": seed} if entry.seeded and "random_state" in cls().get_params() else {}
    kwargs.update(params)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad parameter for {name}: {exc}", where=f"params.yaml: train.spaces.{name}") from None


def make_baseline(task: str, seed: int) -> Any:
    """The trivial baseline trained beside every model."""
    cls = _load(BASELINES[task])
    return cls(strategy="prior", random_state=seed) if task == "classification" else cls(strategy="mean")


def category_levels(X: Any, features: list[Feature], max_categories: int | None) -> list[list[str]] | None:
    """The levels each categorical column is encoded with: its ``max_categories`` most frequent ones.

    Rarer levels are then treated like unseen ones (all-zero one-hot, or -1 ordinal).
    scikit-learn's own ``max_categories`` groups them as "infrequent", which skl2onnx
    cannot convert; explicit levels convert exactly.
    """
    categorical = [f.name for f in features if f.kind == "categorical"]
    if not categorical or max_categories is None:
        return None
    levels = []
    for name in categorical:
        counts = X[name].value_counts(sort=True)
        levels.append(sorted(str(v) for v in counts.index[:max_categories]))
    return levels


def preprocessor(
    features: list[Feature],
    prep: PreprocessParams,
    *,
    scale: bool,
    levels: list[list[str]] | None = None,
    impute: bool = True,
) -> Any:
    """A ColumnTransformer: impute (+ scale) numerics, one-hot or ordinal encode categoricals.

    Categoricals arrive as strings with missing as "" (mlctl.model.features), so the
    encoder needs no imputer: "" is a level of its own.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    numeric = [f.name for f in features if f.kind == "numeric"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    steps = []
    if numeric and not impute:  # the model handles missing values itself
        steps.append(("numeric", "passthrough", numeric))
    elif numeric:
        imputer = SimpleImputer(strategy=prep.numeric_impute, keep_empty_features=True)
        num = Pipeline([("impute", imputer), ("scale", StandardScaler())]) if scale and prep.scale else imputer
        steps.append(("numeric", num, numeric))
    if categorical:
        cats = levels if levels is not None else "auto"
        if prep.categorical_encoding == "onehot":
            enc = OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False, dtype="float32")
        else:
            enc = OrdinalEncoder(categories=cats, handle_unknown="use_encoded_value", unknown_value=-1, dtype="float32")
        steps.append(("categorical", enc, categorical))
    return ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=True)


def build_pipeline(
    name: str,
    task: str,
    features: list[Feature],
    prep: PreprocessParams,
    seed: int,
    *,
    levels: list[list[str]] | None = None,
    **params: Any,
):
    """Preprocessing followed by the named estimator: one object to fit, persist and export."""
    from sklearn.pipeline import Pipeline

    entry = spec(name, task)
    return Pipeline(
        [
            ("preprocess", preprocessor(features, prep, scale=entry.scale, levels=levels, impute=entry.impute)),
            ("model", make_estimator(name, task, seed, **params)),
        ]
    )
