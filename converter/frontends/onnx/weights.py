"""Reading an ONNX file without holding its weights twice.

`onnx.load` reads the whole file into one bytes object and parses it into a ModelProto that
copies every initializer's `raw_data`: for a moment the weights are in memory twice, and the
parsed copy stays while the translator makes numpy arrays of them (a third copy). Here the file
is walked at the protobuf wire level instead: every field is kept except the `raw_data` of large
initializers, which is skipped over and replaced by an external-data reference to the same file
at the same offset. The result is an ordinary ModelProto whose big tensors are EXTERNAL, and
`read_tensor_data` reads each one straight from disk into its numpy array when the translator
asks for it: the weights are in memory once.

Wire format (protobuf encoding): a message is a sequence of fields, each a varint tag
(field number << 3 | wire type) and a payload; wire type 2 is length-delimited (a varint
length, then that many bytes). A concatenation of fields is itself a valid message, which is
what lets the walk rebuild messages from kept pieces.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import onnx
import onnx.external_data_helper
import onnx.numpy_helper

# Field numbers of onnx.proto that the walk follows.
MODEL_GRAPH = 7           # ModelProto.graph
GRAPH_INITIALIZER = 5     # GraphProto.initializer
TENSOR_RAW_DATA = 9       # TensorProto.raw_data

LENGTH_DELIMITED = 2
# Smaller payloads are read along with their tensor: a file read per tiny tensor costs more
# than the bytes it would save.
EXTERNALIZE_FROM_BYTES = 4096


class WireFormatError(ValueError):
    """The file is not a well-formed protobuf message (truncated or not ONNX)."""


def load_model(path: str | os.PathLike) -> onnx.ModelProto:
    """The ModelProto of `path`, with the raw data of large initializers left on disk as
    external data of `path` itself; external data files the model names are made absolute.

    Raises WireFormatError or google.protobuf's DecodeError when the file is malformed."""
    file = Path(path).resolve()
    with open(file, "rb", buffering=1 << 16) as stream:
        reader = _Reader(stream, file.stat().st_size)
        pieces = []
        while not reader.at(reader.size):
            field, wire_type, header = reader.field_header()
            if field == MODEL_GRAPH and wire_type == LENGTH_DELIMITED:
                graph = _graph_bytes(reader, reader.varint(), str(file))
                pieces.append(header + _varint(len(graph)) + graph)
            else:
                pieces.append(header + reader.payload(wire_type))
    model = onnx.ModelProto.FromString(b"".join(pieces))
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

def _graph_bytes(reader: "_Reader", length: int, location: str) -> bytes:
    """The GraphProto's bytes with large initializers' raw data turned into references."""
    end = reader.position + length
    pieces = []
    while not reader.at(end):
        field, wire_type, header = reader.field_header()
        if field == GRAPH_INITIALIZER and wire_type == LENGTH_DELIMITED:
            tensor = _tensor_bytes(reader, reader.varint(), location)
            pieces.append(header + _varint(len(tensor)) + tensor)
        else:
            pieces.append(header + reader.payload(wire_type))
    return b"".join(pieces)


def _tensor_bytes(reader: "_Reader", length: int, location: str) -> bytes:
    """A TensorProto's bytes; a large raw_data is skipped and described as external data."""
    end = reader.position + length
    pieces, raw = [], None
    while not reader.at(end):
        field, wire_type, header = reader.field_header()
        if field == TENSOR_RAW_DATA and wire_type == LENGTH_DELIMITED:
            size = reader.varint()
            if size >= EXTERNALIZE_FROM_BYTES:
                raw = (reader.position, size)
                reader.skip(size)
                continue
            pieces.append(header + _varint(size) + reader.read(size))
        else:
            pieces.append(header + reader.payload(wire_type))
    if raw is None:
        return b"".join(pieces)
    tensor = onnx.TensorProto.FromString(b"".join(pieces))
    tensor.data_location = onnx.TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", raw[0]), ("length", raw[1])):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, str(value)
    return tensor.SerializeToString()


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


class _Reader:
    """Sequential reads of protobuf wire items from a buffered file."""

    def __init__(self, stream: io.BufferedReader, size: int):
        self.stream = stream
        self.size = size

    @property
    def position(self) -> int:
        return self.stream.tell()

    def at(self, end: int) -> bool:
        if self.position > end:
            raise WireFormatError("a field runs past the end of its message")
        return self.position == end

    def read(self, count: int) -> bytes:
        data = self.stream.read(count)
        if len(data) != count:
            raise WireFormatError("the file ends in the middle of a field")
        return data

    def skip(self, count: int) -> None:
        if self.position + count > self.size:
            raise WireFormatError("the file ends in the middle of a field")
        self.stream.seek(count, io.SEEK_CUR)

    def varint(self) -> int:
        return _decode_varint(self._varint_bytes())

    def _varint_bytes(self) -> bytes:
        out = bytearray()
        while True:
            byte = self.read(1)
            out += byte
            if not byte[0] & 0x80:
                return bytes(out)
            if len(out) == 10:
                raise WireFormatError("a varint is longer than 10 bytes")

    def field_header(self) -> tuple[int, int, bytes]:
        header = self._varint_bytes()
        tag = _decode_varint(header)
        return tag >> 3, tag & 7, header

    def payload(self, wire_type: int) -> bytes:
        """The encoded payload of a field whose header was just read, as it stands."""
        if wire_type == 0:
            return self._varint_bytes()
        if wire_type == 1:
            return self.read(8)
        if wire_type == 5:
            return self.read(4)
        if wire_type == LENGTH_DELIMITED:
            length = self._varint_bytes()
            return length + self.read(_decode_varint(length))
        raise WireFormatError(f"unsupported protobuf wire type {wire_type}")


def _decode_varint(data: bytes) -> int:
    value = 0
    for shift, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * shift)
    return value


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
