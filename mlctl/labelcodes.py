"""A classifier's string labels replaced by their indexes in the graph, for batch scoring.

onnxruntime hands string outputs back as one Python ``str`` per row: for a
64k-row chunk of a logistic regression that is a third of the whole call,
and turning those objects into Arrow costs as much again. The ONNX-ML
classifier ops pick a label by index into their ``classlabels_*`` attribute,
so giving them the labels 0..k-1 instead of the class names yields each row's
class index by the very same decision (thresholds, ties and all), as int64.
Batch scoring then writes the labels as a dictionary over the class names.
The model file is not touched: the rewrite is in memory, after its sha256 was
checked. Graphs where the label does not come straight from such a node are
left alone (None).
"""

from __future__ import annotations

# op type -> its integer-labels attribute (ai.onnx.ml)
INT_LABELS = {
    "LinearClassifier": "classlabels_ints",
    "SVMClassifier": "classlabels_ints",
    "TreeEnsembleClassifier": "classlabels_int64s",
}


def with_label_codes(data: bytes, classes: list) -> bytes | None:
    """The model with ``classes[j]`` replaced by ``j`` as its label output, or None when not applicable."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.ModelProto()
    model.ParseFromString(data)
    graph = model.graph
    if not graph.output:
        return None
    label = graph.output[0]
    if label.type.tensor_type.elem_type != TensorProto.STRING:
        return None
    producers = [n for n in graph.node if label.name in n.output]
    consumers = [n for n in graph.node if label.name in n.input]
    if len(producers) != 1 or consumers:  # the label must go straight from one classifier to the output
        return None
    node = producers[0]
    if node.op_type not in INT_LABELS or node.domain != "ai.onnx.ml" or node.output[0] != label.name:
        return None
    names = [a for a in node.attribute if a.name == "classlabels_strings"]
    if len(names) != 1 or [s.decode() for s in names[0].strings] != [str(c) for c in classes]:
        return None  # the manifest's classes must be the graph's, in the same order
    node.attribute.remove(names[0])
    node.attribute.append(helper.make_attribute(INT_LABELS[node.op_type], list(range(len(classes)))))
    label.type.tensor_type.elem_type = TensorProto.INT64
    return model.SerializeToString()
