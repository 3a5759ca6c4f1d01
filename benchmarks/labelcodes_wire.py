"""The hand-written protobuf codec mlctl.onnxmodel.labelcodes used until issue 17, kept as the benchmark's reference.

It made the same two rewrites (class indexes out, category positions in) by
editing the ONNX protobuf wire format directly, to avoid importing the onnx
package. benchmarks/bench_labelcodes.py measures what that saved in an
end-to-end ``mlctl predict`` of 1M rows (about 5%, not more: issue 17 kept the
onnx package). Not imported by mlctl.
"""

from __future__ import annotations

from collections.abc import Iterator

# op type -> its integer-labels attribute (ai.onnx.ml)
INT_LABELS = {
    "LinearClassifier": "classlabels_ints",
    "SVMClassifier": "classlabels_ints",
    "TreeEnsembleClassifier": "classlabels_int64s",
}
STRING, INT64, INTS = 8, 7, 7  # TensorProto.STRING, TensorProto.INT64, AttributeProto.INTS
# field numbers (onnx.proto): ModelProto.graph; GraphProto.node, .output; NodeProto.input,
# .output, .op_type, .attribute, .domain; ValueInfoProto.name, .type; TypeProto.tensor_type;
# Tensor.elem_type; AttributeProto.name, .ints, .strings, .type
MODEL_GRAPH, GRAPH_NODE, GRAPH_INPUT, GRAPH_OUTPUT = 7, 1, 11, 12
NODE_INPUT, NODE_OUTPUT, NODE_OP, NODE_ATTR, NODE_DOMAIN = 1, 2, 4, 5, 7
VALUE_NAME, VALUE_TYPE, TYPE_TENSOR, TENSOR_ELEM = 1, 2, 1, 1
ATTR_NAME, ATTR_INTS, ATTR_STRINGS, ATTR_TYPE = 1, 8, 9, 20

Field = tuple[int, int, object]  # (number, wire type, int for varints or bytes)


def with_label_codes(data: bytes, classes: list) -> bytes | None:
    """The model with ``classes[j]`` replaced by ``j`` as its label output, or None when not applicable."""
    try:
        return _rewrite(data, [str(c) for c in classes])
    except (ValueError, IndexError, UnicodeDecodeError):  # not the protobuf expected: leave the graph alone
        return None


def with_category_codes(data: bytes) -> tuple[bytes, dict[str, list[str]]] | None:
    """String inputs that only feed a OneHotEncoder, taking int64 positions in its categories instead.

    onnxruntime reads a string tensor one Python object at a time with the GIL held:
    on a model of a few features that was 70% of its time. A position (-1: none of
    them) one-hot encodes exactly as the string did, ``zeros`` attribute and all.
    Returns the model and, per rewritten input, its categories in position order.
    """
    try:
        return _rewrite_inputs(data)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _rewrite_inputs(data: bytes) -> tuple[bytes, dict[str, list[str]]] | None:
    model = _parse(data)
    graphs = [i for i, f in enumerate(model) if f[0] == MODEL_GRAPH]
    if len(graphs) != 1:
        return None
    graph = _parse(model[graphs[0]][2])
    nodes = {i: _parse(f[2]) for i, f in enumerate(graph) if f[0] == GRAPH_NODE}
    categories: dict[str, list[str]] = {}
    for i, field in enumerate(graph):
        if field[0] != GRAPH_INPUT:
            continue
        value = _parse(field[2])
        name, retyped = _text(value, VALUE_NAME), _retype(value)
        users = [j for j, node in nodes.items() if name in _texts(node, NODE_INPUT)]
        if retyped is None or len(users) != 1:
            continue
        node = nodes[users[0]]
        if _text(node, NODE_OP) != "OneHotEncoder" or _text(node, NODE_DOMAIN) != "ai.onnx.ml":
            continue
        if _texts(node, NODE_INPUT) != [name]:
            continue
        attrs = [k for k, f in enumerate(node) if f[0] == NODE_ATTR and _name(f[2]) == "cats_strings"]
        if len(attrs) != 1:
            continue
        cats = [c.decode() for c in _values(_parse(node[attrs[0]][2]), ATTR_STRINGS)]
        node[attrs[0]] = (NODE_ATTR, 2, _ints_attribute("cats_int64s", len(cats)))
        graph[users[0]] = (GRAPH_NODE, 2, _serialize(node))
        graph[i] = (GRAPH_INPUT, 2, retyped)
        categories[name] = cats
    if not categories:
        return None
    model[graphs[0]] = (MODEL_GRAPH, 2, _serialize(graph))
    return _serialize(model), categories


def _ints_attribute(name: str, n: int) -> bytes:
    """An AttributeProto ``name`` holding the ints 0..n-1."""
    return _serialize([(ATTR_NAME, 2, name.encode()), *((ATTR_INTS, 0, j) for j in range(n)), (ATTR_TYPE, 0, INTS)])


def _rewrite(data: bytes, classes: list[str]) -> bytes | None:
    model = _parse(data)
    graphs = [i for i, f in enumerate(model) if f[0] == MODEL_GRAPH]
    if len(graphs) != 1:
        return None
    graph = _parse(model[graphs[0]][2])
    outputs = [i for i, f in enumerate(graph) if f[0] == GRAPH_OUTPUT]
    if not outputs:
        return None
    label_value = _parse(graph[outputs[0]][2])
    label = _text(label_value, VALUE_NAME)
    retyped = _retype(label_value)
    nodes = [i for i, f in enumerate(graph) if f[0] == GRAPH_NODE]
    parsed = {i: _parse(graph[i][2]) for i in nodes}
    producers = [i for i in nodes if label in _texts(parsed[i], NODE_OUTPUT)]
    consumers = [i for i in nodes if label in _texts(parsed[i], NODE_INPUT)]
    if retyped is None or len(producers) != 1 or consumers:  # straight from one classifier to the output
        return None
    node = parsed[producers[0]]
    op = _text(node, NODE_OP)
    if op not in INT_LABELS or _text(node, NODE_DOMAIN) != "ai.onnx.ml" or _texts(node, NODE_OUTPUT)[0] != label:
        return None
    attrs = [i for i, f in enumerate(node) if f[0] == NODE_ATTR and _name(f[2]) == "classlabels_strings"]
    if len(attrs) != 1:
        return None
    names = [s.decode() for s in _values(_parse(node[attrs[0]][2]), ATTR_STRINGS)]
    if names != classes:  # the manifest's classes must be the graph's, in the same order
        return None
    node[attrs[0]] = (NODE_ATTR, 2, _ints_attribute(INT_LABELS[op], len(classes)))
    graph[producers[0]] = (GRAPH_NODE, 2, _serialize(node))
    graph[outputs[0]] = (GRAPH_OUTPUT, 2, retyped)
    model[graphs[0]] = (MODEL_GRAPH, 2, _serialize(graph))
    return _serialize(model)


def _retype(value: list[Field]) -> bytes | None:
    """The ValueInfoProto (serialized) with its tensor's element type STRING changed to INT64 (None if not STRING)."""
    types = [i for i, f in enumerate(value) if f[0] == VALUE_TYPE]
    if len(types) != 1:
        return None
    type_proto = _parse(value[types[0]][2])
    tensors = [i for i, f in enumerate(type_proto) if f[0] == TYPE_TENSOR]
    if len(tensors) != 1:
        return None
    tensor = _parse(type_proto[tensors[0]][2])
    elems = [i for i, f in enumerate(tensor) if f[0] == TENSOR_ELEM and f[1] == 0]
    if len(elems) != 1 or tensor[elems[0]][2] != STRING:
        return None
    tensor[elems[0]] = (TENSOR_ELEM, 0, INT64)
    type_proto[tensors[0]] = (TYPE_TENSOR, 2, _serialize(tensor))
    value[types[0]] = (VALUE_TYPE, 2, _serialize(type_proto))
    return _serialize(value)


# -- protobuf wire format: just what the rewrite needs ------------------------------------------


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[Field]:
    """A message's fields in order, read lazily; unknown ones are kept as they are."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield number, wire, value
            continue
        if wire == 2:
            size, i = _varint(buf, i)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if i + size > len(buf):
            raise ValueError("truncated field")
        yield number, wire, bytes(buf[i : i + size])
        i += size


def _parse(buf: bytes) -> list[Field]:
    return list(_fields(buf))


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64 as protobuf writes them
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _serialize(fields: list[Field]) -> bytes:
    out = bytearray()
    for number, wire, value in fields:
        out += _encode_varint(number << 3 | wire)
        if wire == 0:
            out += _encode_varint(value)  # type: ignore[arg-type]
        elif wire == 2:
            out += _encode_varint(len(value)) + value  # type: ignore[arg-type, operator]
        else:
            out += value  # type: ignore[operator]
    return bytes(out)


def _name(attribute: bytes) -> str | None:
    """An AttributeProto's name, read without parsing the rest.

    Serializers write fields in number order, so the name comes first; a tree ensemble's
    other attributes hold one field per tree node and would take seconds to parse here.
    """
    return next((v.decode() for n, w, v in _fields(attribute) if n == ATTR_NAME and w == 2), None)


def _values(fields: list[Field], number: int) -> list:
    return [f[2] for f in fields if f[0] == number]


def _texts(fields: list[Field], number: int) -> list[str]:
    return [v.decode() for v in _values(fields, number) if isinstance(v, bytes)]


def _text(fields: list[Field], number: int) -> str | None:
    texts = _texts(fields, number)
    return texts[-1] if texts else None  # protobuf: the last occurrence of a scalar field wins
