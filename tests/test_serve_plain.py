"""/predict's shortcut for plainly valid rows: it accepts only what the validator accepts, with identical feeds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlctl.onnxmodel.runtime import OnnxModel
from mlctl.serve.plain import MAX_ROWS, Plan, plain_columns, to_feeds
from mlctl.serve.scoring import InputError, validate_records
from mlctl.serve.state import Served
from tests.serve_helpers import build_model, records


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    built = build_model(tmp_path_factory.mktemp("plain") / "m", "classification", estimator="logistic_regression")
    served = Served(OnnxModel.load(built["model"], built["manifest_path"]))
    served.frame = built["frame"]
    return served


def _same_feeds(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for name, feed in expected.items():
        assert got[name].shape == feed.shape and got[name].dtype == feed.dtype, name
        if feed.dtype.kind == "f":
            np.testing.assert_array_equal(got[name], feed)  # bit for bit (NaN == NaN here)
        else:
            assert got[name].tolist() == feed.tolist()


def test_clean_records_take_the_shortcut_with_the_validators_feeds(served):
    recs = [r for r in records(served.frame, slice(0, 60)) if None not in r.values()][:MAX_ROWS]
    assert len(recs) > 10
    for rows in (recs[:1], recs):
        plain = plain_columns(served.plan, rows, 1000)
        assert plain is not None  # the usual request really is answered without the validator
        checked, columns = validate_records(served, rows, "missing", 1000, "instances")
        _same_feeds(to_feeds(served.plan, [plain]), checked.feeds)
        for name in served.categorical:
            assert plain[name] == columns[name]  # what was sent is what was scored


def test_feeds_of_a_batch_are_the_requests_feeds_in_order(served):
    """Plain requests and validator-checked ones (arrays) mix in one batch."""
    recs = records(served.frame, slice(0, 40))
    requests = [recs[0:1], recs[1:4], recs[4:5], recs[5:9]]
    parts = []
    for rows in requests:
        plain = plain_columns(served.plan, rows, 1000)
        parts.append(plain if plain is not None else validate_records(served, rows, "missing", 1000, "x")[0].feeds)
    assert any(type(p[served.names[0]]) is list for p in parts)
    alone = [to_feeds(served.plan, [p]) for p in parts]
    merged = to_feeds(served.plan, parts)
    _same_feeds(merged, {k: np.concatenate([a[k] for a in alone]) for k in merged})


def test_anything_unusual_goes_to_the_validator(served):
    rec = next(r for r in records(served.frame, slice(0, 60)) if None not in r.values())
    numeric = next(s.name for s in served.model.inputs if s.kind == "numeric")
    categorical = next(s.name for s in served.model.inputs if s.kind == "categorical")
    unusual = [
        {**rec, numeric: None},
        {**rec, numeric: "1.5"},
        {**rec, numeric: 1e39},  # float32 overflow: the validator calls it infinite
        {**rec, numeric: 10**400},
        {**rec, categorical: ""},
        {**rec, categorical: "mars"},  # unknown: reject or missing, by config
        {**rec, categorical: 3},
        {**rec, "extra": 1},
        {k: v for k, v in rec.items() if k != numeric},
    ]
    for bad in unusual:
        assert plain_columns(served.plan, [bad], 1000) is None, bad
    assert plain_columns(served.plan, [rec] * (MAX_ROWS + 1), 1000) is None  # big: the vectorised path
    assert plain_columns(served.plan, [rec] * 3, 2) is None  # over serve.max_rows: a 413 from the validator
    assert plain_columns(served.plan, [], 1000) is None
    assert plain_columns(served.plan, {"x": rec}, 1000) is None


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-4e38, max_value=4e38),
    st.sampled_from(["", "red", "blue", "green", "north", "south", "east", "west", "mars", "1"]),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=1),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), unknown=st.sampled_from(["missing", "reject"]))
def test_shortcut_never_accepts_what_the_validator_would_change_or_refuse(served, data, unknown):
    names = served.names
    n = data.draw(st.integers(1, 4))
    recs = []
    for _ in range(n):
        exact = data.draw(st.booleans() | st.just(True))  # mostly the model's own keys
        keys = names if exact else data.draw(st.lists(st.sampled_from([*names, "extra"]), unique=True))
        recs.append({k: _value(data, served, k) for k in keys})
    plain = plain_columns(served.plan, recs, 1000)
    try:
        checked, _ = validate_records(served, recs, unknown, 1000, "instances")
    except InputError:
        assert plain is None  # refused by the validator: never scored by the shortcut
        return
    if plain is not None:
        _same_feeds(to_feeds(served.plan, [plain]), checked.feeds)


def _value(data: st.DataObject, served: Served, name: str) -> object:
    """Mostly what a client would send for ``name``, sometimes anything."""
    return data.draw(_usual(served, name) if data.draw(st.integers(0, 9)) < 8 else values)


def _usual(served: Served, name: str) -> st.SearchStrategy:
    """Values a client would normally send for ``name``."""
    spec = next((s for s in served.model.inputs if s.name == name), None)
    if spec is None:
        return values
    if spec.kind == "numeric":
        return st.floats(-1e6, 1e6) | st.integers(-1000, 1000)
    return st.sampled_from([*(spec.categories or ["red"]), "mars"])  # "mars": a category never trained on


def test_generated_requests_exercise_the_shortcut(served):
    """The property test above is only worth something if the shortcut often says yes."""
    accepted = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(data=st.data())
    def probe(data):
        rec = {k: _value(data, served, k) for k in served.names}
        accepted.append(plain_columns(served.plan, [rec], 1000) is not None)

    probe()
    assert 10 <= sum(accepted) <= len(accepted) - 10, (sum(accepted), len(accepted))  # both answers, often


def test_plan_follows_the_model(served):
    plan = Plan(served.model)
    assert [name for name, _, _ in plan.specs] == served.names
    assert plan.width == len(served.names)
