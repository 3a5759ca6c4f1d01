"""Open Inference Protocol (V2) tensors: JSON and binary tensor data, in and out.

Binary extension: the body is a JSON header of ``Inference-Header-Content-Length``
bytes followed by each binary input's raw little-endian bytes, in input order,
sized by its ``parameters.binary_data_size``. BYTES elements are 4-byte
little-endian length-prefixed strings; BOOL is one byte per element.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

NUMPY = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
DATATYPES = (*NUMPY, "BYTES")
MAX_DIMS = 8


class TensorError(ValueError):
    """A malformed inference request (answered with 400)."""


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary remainder of a request body."""
    if header_length is None:
        return body, b""
    try:
        n = int(header_length)
    except ValueError:
        raise TensorError("Inference-Header-Content-Length must be an integer") from None
    if not 0 < n <= len(body):
        raise TensorError(f"Inference-Header-Content-Length {n} is outside the body's {len(body)} bytes")
    return body[:n], body[n:]


def element_count(shape: Any, name: str) -> int:
    if (
        not isinstance(shape, list)
        or not shape
        or len(shape) > MAX_DIMS
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise TensorError(f"input {name!r}: shape must be a list of 1 to {MAX_DIMS} non-negative integers")
    return math.prod(shape)


def flatten(data: Any) -> list:
    """Row-major flattening of nested JSON lists (both layouts are allowed by the protocol)."""
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(v, list) for v in data):
        return data
    out: list = []
    stack = [iter(data)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                stack.append(iter(v))
                break
            out.append(v)
        else:
            stack.pop()
    return out


def decode_tensors(header: dict, binary: bytes) -> list[tuple[str, str, list[int], Any]]:
    """(name, datatype, shape, flat values) per input; values are a numpy array or a list."""
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise TensorError("'inputs' must be a non-empty list of tensors")
    offset = 0
    out = []
    for i, t in enumerate(inputs):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise TensorError(f"inputs[{i}] must be an object with a string 'name'")
        name, datatype = t["name"][:64], t.get("datatype")
        if datatype not in DATATYPES:
            raise TensorError(f"input {name!r}: unknown datatype {str(datatype)[:20]!r}; use one of {list(DATATYPES)}")
        count = element_count(t.get("shape"), name)
        params = t.get("parameters") or {}
        if not isinstance(params, dict):
            raise TensorError(f"input {name!r}: parameters must be an object")
        size = params.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
                raise TensorError(f"input {name!r}: binary_data_size {str(size)[:20]} exceeds the binary data sent")
            values = decode_binary(datatype, binary[offset : offset + size], count, name)
            offset += size
        else:
            if "data" not in t:
                raise TensorError(f"input {name!r}: needs 'data' or parameters.binary_data_size")
            values = flatten(t["data"])
            if len(values) != count:
                raise TensorError(f"input {name!r}: {len(values)} values for shape {t['shape']}")
        out.append((name, datatype, t["shape"], values))
    if offset != len(binary):
        raise TensorError(f"{len(binary) - offset} bytes of binary data not claimed by any input")
    return out


def decode_binary(datatype: str, raw: bytes, count: int, name: str) -> Any:
    if datatype == "BYTES":
        values, pos = [], 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise TensorError(f"input {name!r}: truncated BYTES length prefix")
            (n,) = struct.unpack_from("<I", raw, pos)
            pos += 4
            if pos + n > len(raw):
                raise TensorError(f"input {name!r}: BYTES element longer than the data")
            try:
                values.append(raw[pos : pos + n].decode("utf-8"))
            except UnicodeDecodeError:
                raise TensorError(f"input {name!r}: BYTES element is not UTF-8") from None
            pos += n
        if len(values) != count:
            raise TensorError(f"input {name!r}: {len(values)} BYTES elements for {count} expected")
        return values
    dtype = np.dtype(NUMPY[datatype])
    if len(raw) != count * dtype.itemsize:
        raise TensorError(f"input {name!r}: {len(raw)} bytes for {count} {datatype} elements")
    return np.frombuffer(raw, dtype=dtype)


def encode_binary(datatype: str, values: Any) -> bytes:
    if datatype == "BYTES":
        parts = []
        for v in values:
            b = str(v).encode("utf-8")
            parts.append(struct.pack("<I", len(b)))
            parts.append(b)
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=np.dtype(NUMPY[datatype])).tobytes()


def encode_response(header: dict, outputs: list[tuple[dict, Any, bool]]) -> tuple[dict, bytes]:
    """Fill the response's outputs; binary ones get binary_data_size instead of data."""
    chunks = []
    header["outputs"] = []
    for meta, values, binary in outputs:
        entry = dict(meta)
        if binary:
            raw = encode_binary(meta["datatype"], values)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = values.reshape(-1).tolist() if isinstance(values, np.ndarray) else list(values)
        header["outputs"].append(entry)
    return header, b"".join(chunks)
