"""TensorFlow data types and TensorProto values as numpy arrays.

A TensorProto read by `graph_def.read_graph_def` may have its large `tensor_content` left in
the file, a `TensorContentSpan` (an unknown field to TensorFlow's schema) saying where: its
values are then read from the file straight into their array.
"""
from __future__ import annotations

import numpy as np

from ...errors import ModelLoadError, UserInputError
from .graph_def import content_file
from .proto import TENSOR_CONTENT_SPAN_FIELD, messages

# DataType enum value -> numpy dtype (the types OpenVINO can hold).
NUMPY_TYPES = {
    1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
    9: np.int64, 10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64,
}
_NAMES = {7: "string", 8: "complex64", 14: "bfloat16", 18: "complex128", 20: "resource",
          21: "variant"}

# Which typed *_val field holds the values of each DataType.
_VALUE_FIELDS = {
    1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val",
    9: "int64_val", 10: "bool_val", 17: "int_val", 19: "half_val", 22: "uint32_val",
    23: "uint64_val",
}


def numpy_type(dtype: int, where: str) -> np.dtype:
    """The numpy dtype of a TensorFlow DataType; a clear error for one we cannot convert."""
    if not isinstance(dtype, int):  # the attribute is missing: a malformed GraphDef
        raise UserInputError(f"{where}: no data type given (attribute missing); the GraphDef "
                             "is malformed, export or download it again")
    base = dtype - 100 if dtype > 100 else dtype  # reference types (DT_FLOAT_REF) hold values too
    if base not in NUMPY_TYPES:
        name = _NAMES.get(base, f"DataType {dtype}")
        raise UserInputError(f"{where}: TensorFlow type {name} is not supported by OpenVINO IR")
    return np.dtype(NUMPY_TYPES[base])


def shape_of(shape_proto) -> tuple[int, ...] | None:
    """A TensorShapeProto as a shape tuple: -1 for an unknown dim, None for an unknown rank."""
    if shape_proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape_proto.dim)


def tensor_value(tensor, where: str) -> np.ndarray:
    """The value of a TensorProto: raw `tensor_content`, or a typed list that, when shorter
    than the tensor, is padded with its last element (TensorFlow's compact constants)."""
    dtype = numpy_type(tensor.dtype, where)
    shape = shape_of(tensor.tensor_shape) or ()
    count = int(np.prod(shape, dtype=np.int64))
    flat = _content_values(tensor, dtype, where)
    if flat is not None:
        if flat.size != count:
            raise UserInputError(f"{where}: tensor_content holds {flat.size} values for shape "
                                 f"{list(shape)}")
        return flat.astype(dtype, copy=False).reshape(shape)
    values = _typed_values(tensor, dtype)
    if values.size == 0:
        return np.zeros(shape, dtype=dtype)
    if values.size > count:
        raise UserInputError(f"{where}: the constant holds {values.size} values for shape "
                             f"{list(shape)}")
    if values.size < count:
        values = np.concatenate([values, np.full(count - values.size, values[-1], dtype=dtype)])
    return values.reshape(shape)


def _typed_values(tensor, dtype: np.dtype) -> np.ndarray:
    field = _VALUE_FIELDS[tensor.dtype % 100]
    raw = getattr(tensor, field)
    if field == "half_val":  # the float16 bit patterns, widened to int32 by the protobuf
        return np.asarray(raw, dtype=np.int64).astype(np.uint16).view(np.float16)
    return np.asarray(raw).astype(dtype)


def content_span(tensor):
    """The TensorContentSpan of a tensor whose content was left in its file, else None."""
    from google.protobuf.unknown_fields import UnknownFieldSet

    for field in UnknownFieldSet(tensor):
        if field.field_number == TENSOR_CONTENT_SPAN_FIELD:
            return messages().TensorContentSpan.FromString(field.data)
    return None


def _content_values(tensor, dtype: np.dtype, where: str) -> np.ndarray | None:
    """The flat values of `tensor_content`, in the message or left in the file; None when
    the tensor has neither (its values are in a typed *_val list)."""
    little = dtype.newbyteorder("<")
    if tensor.tensor_content:
        _check_whole_values(len(tensor.tensor_content), dtype, where)
        return np.frombuffer(tensor.tensor_content, dtype=little)
    span = content_span(tensor)
    if span is None:
        return None
    _check_whole_values(span.length, dtype, where)
    return _read_span(span, little, where)


def _check_whole_values(length: int, dtype: np.dtype, where: str) -> None:
    if length % dtype.itemsize:
        raise UserInputError(f"{where}: tensor_content holds {length} bytes, not a whole "
                             f"number of {dtype} values")


def _read_span(span, dtype: np.dtype, where: str) -> np.ndarray:
    """The span's bytes read from its file into a fresh array (no intermediate copy); the
    file must be one `read_graph_def` read, unchanged since.

    Read, not viewed in a map of the file: the passes replace most weights (a folded
    Transpose of a kernel, a fused scale), and a replaced array frees its memory, where a
    mapping's pages stay resident while any view of it lives (frozen ResNet50: peak RSS 234 MB
    read, 244 MB viewed)."""
    file = content_file(span.file)
    if file is None or span.offset < 0 or span.offset + span.length > file.size:
        raise UserInputError(f"{where}: its tensor holds a reference to values in a file that "
                             "this conversion did not read; the GraphDef is malformed, export "
                             "or download it again")
    try:
        stat = file.path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (file.size, file.mtime_ns):
            raise ModelLoadError(f"{file.path}: the file changed while it was being converted "
                                 f"(reading {where}); convert it again")
        with open(file.path, "rb") as stream:
            stream.seek(span.offset)
            values = np.fromfile(stream, dtype=dtype, count=span.length // dtype.itemsize)
    except OSError as exc:
        raise ModelLoadError(f"{file.path}: cannot read the values of {where} from the "
                             f"GraphDef file ({exc.strerror or exc})") from None
    if values.nbytes != span.length:
        raise ModelLoadError(f"{file.path}: the file ends before the values of {where}; it "
                             "is truncated, download or export it again")
    return values
