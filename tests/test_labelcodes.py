"""Batch scoring's integer-label graph decides exactly like the exported one, for every classifier mlctl trains."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from mlctl.onnxmodel.labelcodes import INT_LABELS, with_category_codes, with_label_codes
from mlctl.onnxmodel.runtime import OnnxModel
from tests.serve_helpers import build_model, records

CLASSIFIERS = ["logistic_regression", "random_forest", "gradient_boosting", "hist_gradient_boosting", "ridge", "knn"]


@pytest.mark.parametrize(
    ("task", "estimator"),
    [*(("classification", e) for e in CLASSIFIERS), ("regression", "random_forest"), ("regression", "ridge")],
)
def test_codes_give_the_same_predictions(tmp_path, task, estimator):
    built = build_model(tmp_path / "m", task, estimator=estimator, n=400)
    data = built["model"].read_bytes()
    classes = built["manifest"].get("classes") or []
    original = OnnxModel.load(built["model"], built["manifest_path"])
    coded = OnnxModel.load(built["model"], built["manifest_path"], codes=True)
    assert coded.label_codes == (task == "classification" and with_label_codes(data, classes) is not None)
    if estimator in ("logistic_regression", "random_forest", "gradient_boosting", "hist_gradient_boosting"):
        assert coded.label_codes or task == "regression"  # the ones that matter for speed really are rewritten
        assert set(coded.category_codes) == {"colour", "region"}  # both text inputs go in as positions
    recs = records(built["frame"], slice(0, 400))
    odd = [{**recs[1], "colour": "mars"}, {**recs[2], "colour": ""}, {**recs[3], "region": None}]
    recs += odd + [recs[0]] * 5 + [dict.fromkeys(recs[0])] * 3  # unknown, blank, missing, repeats: ties if any
    for unknown in ("missing", "reject"):
        want_checked = original.check_records(recs, unknown=unknown)
        got_checked = coded.check_records(recs, unknown=unknown)
        assert got_checked.ok.tolist() == want_checked.ok.tolist()
        assert got_checked.reasons == want_checked.reasons
        want = original.predict_checked(want_checked)
        got = coded.predict_checked(got_checked)
        if task == "regression":
            np.testing.assert_array_equal(got.labels, want.labels)
            continue
        np.testing.assert_array_equal(got.probabilities, want.probabilities)
        if coded.label_codes:
            assert got.labels.dtype == np.int64
            assert [classes[i] for i in got.labels.tolist()] == want.labels.tolist()
        else:
            assert got.labels.tolist() == want.labels.tolist()


def _reference(data: bytes, classes: list) -> onnx.ModelProto:
    """The same rewrite with the onnx package: what the wire-format edit must produce."""
    model = onnx.load_from_string(data)
    label = model.graph.output[0]
    node = next(n for n in model.graph.node if label.name in n.output)
    i = next(i for i, a in enumerate(node.attribute) if a.name == "classlabels_strings")
    node.attribute[i].CopyFrom(helper.make_attribute(INT_LABELS[node.op_type], list(range(len(classes)))))
    label.type.tensor_type.elem_type = TensorProto.INT64
    return model


def _reference_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    for value in model.graph.input:
        users = [n for n in model.graph.node if value.name in n.input]
        if value.type.tensor_type.elem_type != TensorProto.STRING or len(users) != 1:
            continue
        node = users[0]
        i = next(i for i, a in enumerate(node.attribute) if a.name == "cats_strings")
        n = len(node.attribute[i].strings)
        node.attribute[i].CopyFrom(helper.make_attribute("cats_int64s", list(range(n))))
        value.type.tensor_type.elem_type = TensorProto.INT64
    return model


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest", "hist_gradient_boosting"])
def test_the_wire_format_edit_is_the_onnx_package_edit(tmp_path, estimator):
    built = build_model(tmp_path / "m", "classification", estimator=estimator)
    data = built["model"].read_bytes()
    classes = built["manifest"]["classes"]
    labelled = with_label_codes(data, classes)
    assert onnx.load_from_string(labelled) == _reference(data, classes)
    coded, categories = with_category_codes(labelled)
    assert onnx.load_from_string(coded) == _reference_inputs(_reference(data, classes))
    assert categories == {"colour": ["", "blue", "green", "red"], "region": ["east", "north", "south", "west"]}


def test_graphs_it_cannot_prove_are_left_alone(tmp_path):
    built = build_model(tmp_path / "m", "classification", estimator="random_forest")
    data = built["model"].read_bytes()
    assert with_label_codes(data, ["yes", "no"]) is None  # classes in another order than the graph's
    assert with_label_codes(data, ["a", "b", "c"]) is None
    reg = build_model(tmp_path / "r", "regression", estimator="random_forest")
    assert with_label_codes(reg["model"].read_bytes(), []) is None
    assert with_label_codes(b"not a model", ["no", "yes"]) is None
    assert with_label_codes(data[: len(data) // 2], built["manifest"]["classes"]) is None  # truncated
    # the rewritten graph is a valid model onnxruntime opens
    ort.InferenceSession(with_label_codes(data, built["manifest"]["classes"]), providers=["CPUExecutionProvider"])


def test_dask_workers_score_with_codes_too(tmp_path):
    from mlctl.batch.dask_engine import worker_model

    built = build_model(tmp_path / "m", "classification", estimator="random_forest", seed=3)
    model = worker_model(built["model"].read_bytes(), built["manifest"])
    assert model.label_codes and set(model.category_codes) == {"colour", "region"}
