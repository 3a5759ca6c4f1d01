"""Text in and out of onnxruntime as integer codes, for batch scoring.

onnxruntime reads and writes string tensors one Python ``str`` per row, holding
the GIL: on a CSV job of a few features that made it the job's bottleneck. The
ONNX-ML ops at the ends of an exported graph work by position, so the rewrite
is exact (thresholds, ties, unknowns and all):

- labels: a classifier picks its label by index into ``classlabels_*``; with the
  labels 0..k-1 it answers each row's class index, as int64, which batch scoring
  writes as a dictionary over the class names;
- inputs: a string input that only feeds a OneHotEncoder is fed the value's
  position in the encoder's ``cats_strings`` instead (-1 for none of them, which
  encodes to zeros as an unknown string did).

The model file is not touched: the rewrite is in memory, after its sha256 was
checked, with the onnx package, imported here on first use (only batch scoring
rewrites graphs; ``mlctl --help`` and serve never load it). Graphs that do not
have these shapes are left alone (None).

Issue 17 kept the hand-written protobuf codec this replaced only if it saved
more than 5% of an end-to-end ``mlctl predict`` of 1M rows. Measured by
benchmarks/bench_labelcodes.py (2 cores shared with other jobs): 0.07 s of a
1.41 s run, 4.7-5.0% (the import of onnx on top of the libraries mlctl predict
loads anyway; the rewrite itself is under 0.3 ms either way), so not more. Both
codecs give byte-identical models; the old one is kept for that benchmark in
benchmarks/labelcodes_wire.py.
"""

from __future__ import annotations

from typing import Any

# op type -> its integer-labels attribute (ai.onnx.ml)
INT_LABELS = {
    "LinearClassifier": "classlabels_ints",
    "SVMClassifier": "classlabels_ints",
    "TreeEnsembleClassifier": "classlabels_int64s",
}


def with_label_codes(data: bytes, classes: list) -> bytes | None:
    """The model with ``classes[j]`` replaced by ``j`` as its label output, or None when not applicable."""
    from onnx import TensorProto, helper

    model = _load(data)
    if model is None or not model.graph.output or not _string_tensor(model.graph.output[0]):
        return None
    graph, label = model.graph, model.graph.output[0]
    producers = [n for n in graph.node if label.name in n.output]
    if len(producers) != 1 or any(label.name in n.input for n in graph.node):  # straight from one classifier
        return None
    node = producers[0]
    if node.op_type not in INT_LABELS or node.domain != "ai.onnx.ml" or node.output[0] != label.name:
        return None
    names = _strings(node, "classlabels_strings")
    if names is None or names != [str(c) for c in classes]:  # the manifest's classes, in the graph's order
        return None
    _replace(node, "classlabels_strings", helper.make_attribute(INT_LABELS[node.op_type], list(range(len(names)))))
    label.type.tensor_type.elem_type = TensorProto.INT64
    return model.SerializeToString()


def with_category_codes(data: bytes) -> tuple[bytes, dict[str, list[str]]] | None:
    """String inputs that only feed a OneHotEncoder, taking int64 positions in its categories instead.

    onnxruntime reads a string tensor one Python object at a time with the GIL held:
    on a model of a few features that was 70% of its time. A position (-1: none of
    them) one-hot encodes exactly as the string did, ``zeros`` attribute and all.
    Returns the model and, per rewritten input, its categories in position order.
    """
    from onnx import TensorProto, helper

    model = _load(data)
    if model is None:
        return None
    graph = model.graph
    categories: dict[str, list[str]] = {}
    for value in graph.input:
        if not _string_tensor(value):
            continue
        users = [n for n in graph.node if value.name in n.input]
        if len(users) != 1:
            continue
        node = users[0]
        if node.op_type != "OneHotEncoder" or node.domain != "ai.onnx.ml" or list(node.input) != [value.name]:
            continue
        cats = _strings(node, "cats_strings")
        if cats is None:
            continue
        _replace(node, "cats_strings", helper.make_attribute("cats_int64s", list(range(len(cats)))))
        value.type.tensor_type.elem_type = TensorProto.INT64
        categories[value.name] = cats
    if not categories:
        return None
    return model.SerializeToString(), categories


def _load(data: bytes) -> Any:
    """The ModelProto, or None for bytes that are not one."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        return onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeWarning):
        return None


def _string_tensor(value: Any) -> bool:
    from onnx import TensorProto

    return value.type.WhichOneof("value") == "tensor_type" and value.type.tensor_type.elem_type == TensorProto.STRING


def _strings(node: Any, name: str) -> list[str] | None:
    """The node's one attribute ``name`` as text, or None (absent, repeated, or not UTF-8)."""
    found = [a for a in node.attribute if a.name == name]
    if len(found) != 1:
        return None
    try:
        return [s.decode() for s in found[0].strings]
    except UnicodeDecodeError:
        return None


def _replace(node: Any, name: str, attribute: Any) -> None:
    """Replace the attribute ``name`` in place (same position: the graph is otherwise byte-identical)."""
    i = next(i for i, a in enumerate(node.attribute) if a.name == name)
    node.attribute[i].CopyFrom(attribute)
