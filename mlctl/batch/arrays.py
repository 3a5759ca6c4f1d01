"""Arrow ↔ numpy for plain columns, without pyarrow's pandas hook.

``pa.array``, ``Array.to_numpy`` and ``fill_null`` with a Python scalar make
pyarrow import pandas on first use: 0.3 s of CPU that holds the GIL while the
scoring threads wait, a third of a million-row CSV job. Batch scoring moves its
numbers and masks through these buffer-level helpers instead; they copy nothing
they do not have to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


def _one(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    import pyarrow as pa

    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _valid(arr: pa.Array) -> np.ndarray | None:
    """The validity mask of ``arr`` as booleans, or None when no value is missing."""
    if arr.null_count == 0:
        return None
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little", count=arr.offset + len(arr))[arr.offset :].astype(bool)


def floats(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric or boolean column as float64, missing values as NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = _one(pc.cast(col, pa.float64()))
    if arr.buffers()[1] is None:  # nothing but missing values
        return np.full(len(arr), np.nan)
    values = np.frombuffer(arr.buffers()[1], dtype=np.float64, count=arr.offset + len(arr))[arr.offset :].copy()
    valid = _valid(arr)
    if valid is not None:
        values[~valid] = np.nan
    return values


def codes(col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """A dictionary column as (codes, distinct values); code -1 is a missing value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = _one(col)  # combining unifies the chunks' dictionaries
    indices = pc.cast(arr.indices, pa.int64())
    out = np.frombuffer(indices.buffers()[1], dtype=np.int64, count=indices.offset + len(indices))
    out = out[indices.offset :].astype(np.intp)
    valid = _valid(indices)
    if valid is not None:
        out[~valid] = -1
    return out, arr.dictionary.to_pylist()


def from_numpy(values: np.ndarray) -> pa.Array:
    """A 1-D numpy array of numbers or booleans as an Arrow array (zero-copy for numbers)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    if values.dtype.kind == "b":
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def strings(values: list[str]) -> pa.Array:
    """A short list of strings as an Arrow string array."""
    import pyarrow as pa

    data = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def labels(values: np.ndarray, classes: list | None) -> pa.Array:
    """Predicted labels as Arrow: numbers directly, text as codes into the classes when they all match."""
    import pyarrow as pa

    if values.dtype.kind in "iufb":
        return from_numpy(values)
    if classes and len(classes) <= 64 and all(isinstance(c, str) for c in classes):
        index = np.full(len(values), -1, dtype=np.int32)
        for j, c in enumerate(classes):
            index[values == c] = j
        if (index >= 0).all():
            return pa.DictionaryArray.from_arrays(from_numpy(index), strings(classes)).cast(pa.string())
    return pa.array(values, type=pa.string())  # unusual labels: let pyarrow convert them


def coded_labels(codes: np.ndarray, classes: list) -> pa.Array:
    """Labels from class indexes (a model loaded with label_codes): the class names, as text."""
    import pyarrow as pa

    index = from_numpy(codes.astype(np.int32, copy=False))
    return pa.DictionaryArray.from_arrays(index, strings([str(c) for c in classes])).cast(pa.string())
