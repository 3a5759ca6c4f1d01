"""The serve fast path for small requests validates exactly like the runtime (generated inputs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlctl.onnxmodel.runtime import OnnxModel
from mlctl.onnxmodel.smallcheck import check_small
from mlctl.serve.scoring import scalars
from tests.serve_helpers import build_model


@pytest.fixture(scope="module", params=["numbers first", "interleaved"])
def model(tmp_path_factory, request):
    built = build_model(tmp_path_factory.mktemp("fast") / "m", "classification", estimator="logistic_regression")
    model = OnnxModel.load(built["model"], built["manifest_path"])
    if request.param == "interleaved":  # the fast path checks numbers first; reasons must still follow input order
        inputs = model.manifest["inputs"]
        mixed = [x for pair in zip(inputs[::-1], inputs, strict=True) for x in pair][: len(inputs)]
        mixed = list({spec["name"]: spec for spec in mixed + inputs}.values())
        model = OnnxModel(model.session, {**model.manifest, "inputs": mixed})
        assert [s.kind for s in model.inputs] != sorted(s.kind for s in model.inputs)
    return model


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e40, max_value=1e40),
    st.sampled_from(["", "red", "blue", "north", "east", "mars", "1", "1.5", "True"]),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), unknown=st.sampled_from(["missing", "reject"]))
def test_fast_path_equals_runtime(model, data, unknown):
    n = data.draw(st.integers(1, 6))
    columns = {name: data.draw(st.lists(values, min_size=n, max_size=n)) for name in model.input_names}
    with np.errstate(all="ignore"):
        expected = model.check_columns(scalars(columns), n, unknown=unknown)
    got = check_small(model, columns, n, unknown)  # lists and objects as they came: no scalars() needed
    assert got.ok.tolist() == expected.ok.tolist()
    assert got.reasons == expected.reasons
    for name, feed in expected.feeds.items():
        if feed.dtype.kind == "f":
            np.testing.assert_array_equal(got.feeds[name], feed)  # NaN == NaN here
            assert got.feeds[name].dtype == feed.dtype
        else:
            assert got.feeds[name].tolist() == feed.tolist()
