"""Reading an ONNX file without holding its weights twice.

`onnx.load` reads the whole file into one bytes object and parses it into a ModelProto that
copies every initializer's `raw_data`: for a moment the weights are in memory twice, and the
parsed copy stays while the translator makes numpy arrays of them (a third copy). Here the file
is walked at the protobuf wire level instead: every field is kept except the `raw_data` of large
initializers, which is skipped over and replaced by an external-data reference to the same file
at the same offset. The result is an ordinary ModelProto whose big tensors are EXTERNAL, and
`read_tensor_data` reads each one straight from disk into its numpy array when the translator
asks for it: the weights are in memory once. The wire-level walk is `protowire`'s, shared
with the TensorFlow frontend.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnx.external_data_helper
import onnx.numpy_helper

from .. import protowire

# Field numbers of onnx.proto that the walk follows.
MODEL_GRAPH = 7           # ModelProto.graph
GRAPH_INITIALIZER = 5     # GraphProto.initializer
TENSOR_RAW_DATA = 9       # TensorProto.raw_data

LENGTH_DELIMITED = protowire.LENGTH_DELIMITED
# Smaller payloads are read along with their tensor: a file read per tiny tensor costs more
# than the bytes it would save.
EXTERNALIZE_FROM_BYTES = 4096


# The file is not a well-formed protobuf message (truncated or not ONNX).
WireFormatError = protowire.WireFormatError


def load_model(path: str | os.PathLike) -> onnx.ModelProto:
    """The ModelProto of `path`, with the raw data of large initializers left on disk as
    external data of `path` itself; external data files the model names are made absolute.

    Raises WireFormatError or google.protobuf's DecodeError when the file is malformed."""
    file = Path(path).resolve()
    with protowire.mapped_file(file) as buf:
        data = protowire.rewrite(buf, 0, len(buf), _Walk(buf, str(file)).model_field)
        if data is None:
            data = bytes(buf)
    model = onnx.ModelProto.FromString(data)
    _anchor_external_locations(model.graph, file.parent)
    return model


def external_array(tensor: onnx.TensorProto) -> np.ndarray:
    """The value of an EXTERNAL tensor (location absolute, as `load_model` leaves it).

    Types stored a value per whole number of bytes are read straight into their array; packed
    ones (4-bit types) go through onnx's own loader and converter."""
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
    entries = _external_entries(tensor)
    count = int(np.prod(tensor.dims, dtype=np.int64))
    if int(entries.get("length", count * dtype.itemsize)) == count * dtype.itemsize:
        return read_tensor_data(tensor, dtype).reshape(tuple(tensor.dims))
    loaded = onnx.TensorProto()
    loaded.CopyFrom(tensor)
    onnx.external_data_helper.load_external_data_for_tensor(loaded, "")
    loaded.data_location = onnx.TensorProto.DEFAULT
    return onnx.numpy_helper.to_array(loaded)


def read_tensor_data(tensor: onnx.TensorProto, dtype: np.dtype) -> np.ndarray:
    """The flat array an EXTERNAL tensor's bytes hold, read from disk into a fresh buffer."""
    entries = _external_entries(tensor)
    location = entries["location"]
    offset = int(entries.get("offset", 0))
    count = int(np.prod(tensor.dims, dtype=np.int64))
    expected = count * dtype.itemsize
    length = int(entries.get("length", expected))
    if length != expected:
        raise WireFormatError(f"tensor {tensor.name!r}: {length} external bytes for "
                              f"{count} values of {dtype} ({expected} bytes)")
    try:
        with open(location, "rb") as data:
            data.seek(offset)
            array = np.fromfile(data, dtype=dtype.newbyteorder("<"), count=count)
    except FileNotFoundError:
        raise WireFormatError(f"tensor {tensor.name!r}: its external data file "
                              f"{Path(location).name} is missing") from None
    if array.size != count:
        raise WireFormatError(f"tensor {tensor.name!r}: its external data in "
                              f"{Path(location).name} is truncated")
    return array.astype(dtype, copy=False)


def _external_entries(tensor: onnx.TensorProto) -> dict[str, str]:
    entries = {entry.key: entry.value for entry in tensor.external_data}
    if not entries.get("location"):
        raise WireFormatError(f"tensor {tensor.name!r} is stored externally but names no file")
    return entries


# -- the walk --------------------------------------------------------------------------------

class _Walk:
    """`protowire.rewrite` callbacks for a mapped ONNX file: ModelProto -> its graph -> the
    graph's initializers, whose large raw data becomes an external reference to `location`."""

    def __init__(self, buf: protowire.Buffer, location: str):
        self.buf = buf
        self.location = location

    def model_field(self, field: protowire.Field) -> bytes | None:
        if field.number == MODEL_GRAPH and field.wire_type == LENGTH_DELIMITED:
            return protowire.rewrite_nested(self.buf, field, self.graph_field)
        return None

    def graph_field(self, field: protowire.Field) -> bytes | None:
        if (field.number == GRAPH_INITIALIZER and field.wire_type == LENGTH_DELIMITED
                and field.size >= EXTERNALIZE_FROM_BYTES):
            return self.initializer(field)
        return None

    def initializer(self, field: protowire.Field) -> bytes | None:
        """A TensorProto field whose large raw_data is described as external data instead;
        None when its raw data is small or absent."""
        raws = [f for f in protowire.fields(self.buf, field.payload, field.end)
                if f.number == TENSOR_RAW_DATA and f.wire_type == LENGTH_DELIMITED]
        if not raws or raws[-1].size < EXTERNALIZE_FROM_BYTES:
            return None
        dropped = {f.start for f in raws}
        kept = protowire.rewrite(self.buf, field.payload, field.end,
                                 lambda f: b"" if f.start in dropped else None)
        tensor = onnx.TensorProto.FromString(kept)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        del tensor.external_data[:]
        raw = raws[-1]
        for key, value in (("location", self.location), ("offset", raw.payload),
                           ("length", raw.size)):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, str(value)
        return protowire.length_delimited(field.number, tensor.SerializeToString())


def _anchor_external_locations(graph: onnx.GraphProto, folder: Path) -> None:
    """Make the model's own external data locations absolute, refusing any that leave the
    model's folder (as onnx does: a model must not make the converter read arbitrary files)."""
    for tensor in graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        for entry in tensor.external_data:
            if entry.key != "location" or Path(entry.value).is_absolute():
                continue
            target = (folder / entry.value).resolve()
            if folder not in target.parents:
                raise WireFormatError(f"tensor {tensor.name!r} names external data "
                                      f"{entry.value!r} outside the model's folder")
            entry.value = str(target)
