"""The model pipeline's preprocessing: max_categories keeps the frequent levels and still exports exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_frame

from mlctl.core.errors import ConfigError
from mlctl.model.estimators import build_pipeline, category_levels, spec
from mlctl.model.features import infer_features, to_model_frame
from mlctl.params.train import PreprocessParams
from mlctl.stages.export.convert import to_onnx


def test_max_categories_keeps_frequent_levels_and_converts_with_parity():
    import onnxruntime as ort

    df = make_frame(n=600, seed=4).drop(columns=["signup"])
    features = infer_features(df, "target")
    X = to_model_frame(df, features)
    levels = category_levels(X, features, 2)
    region = [f.name for f in features if f.kind == "categorical"].index("region")
    assert levels[region] == ["north", "south"]  # the two most frequent of four
    prep = PreprocessParams(max_categories=2)
    pipe = build_pipeline("logistic_regression", "classification", features, prep, 0, levels=levels).fit(X, df.target)
    encoded = pipe.named_steps["preprocess"].transform(X.head(50))
    assert encoded.shape[1] == 4 + 2 + 2  # 4 numeric + 2 kept levels of each categorical
    sess = ort.InferenceSession(to_onnx(pipe, features).SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {
        f.name: (X[f.name].to_numpy(np.float32) if f.kind == "numeric" else X[f.name].to_numpy(object)).reshape(-1, 1)
        for f in features
    }
    labels, proba = sess.run(None, feeds)
    assert (labels == pipe.predict(X)).all()
    assert np.abs(proba - pipe.predict_proba(X)).max() < 1e-5


def test_no_levels_without_categoricals_or_limit():
    df = pd.DataFrame({"a": [1.0, 2.0], "target": ["x", "y"]})
    features = infer_features(df, "target")
    assert category_levels(to_model_frame(df, features), features, 5) is None


def test_registry_errors_suggest_names():
    with pytest.raises(ConfigError, match="did you mean 'random_forest'"):
        spec("random_forrest", "classification")
    with pytest.raises(ConfigError, match="does not do classification"):
        spec("linear_regression", "classification")


def test_histogram_boosting_gets_missing_values_and_the_others_an_imputer():
    df = make_frame(n=300, seed=5).drop(columns=["signup"])
    features = infer_features(df, "target")
    X = to_model_frame(df, features)
    X.loc[:40, "x1"] = np.nan
    boost = build_pipeline("hist_gradient_boosting", "classification", features, PreprocessParams(), 0, max_iter=10)
    numeric = dict((name, step) for name, step, _ in boost.named_steps["preprocess"].transformers)["numeric"]
    assert numeric == "passthrough"
    boost.fit(X, df.target)
    assert np.isnan(boost.named_steps["preprocess"].transform(X.head(41))[:, 0]).all()  # NaN reaches the model
    forest = build_pipeline("random_forest", "classification", features, PreprocessParams(), 0, n_estimators=5)
    numeric = dict((name, step) for name, step, _ in forest.named_steps["preprocess"].transformers)["numeric"]
    assert type(numeric).__name__ == "SimpleImputer"
