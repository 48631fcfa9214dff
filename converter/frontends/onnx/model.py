"""Reading an ONNX file and decoding what the translator needs from its protobufs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ...element_types import from_numpy
from ...errors import ModelLoadError, UserInputError
from ...graph import Shape
from .weights import external_array, load_model

DEFAULT_DOMAINS = ("", "ai.onnx")


def read_model(path: str | None) -> onnx.ModelProto:
    """Load `path` with its external data; every way of failing is a ModelLoadError."""
    if not path:
        raise ModelLoadError("no ONNX model given: pass --input_model path/to/model.onnx")
    file = Path(path)
    if not file.is_file():
        raise ModelLoadError(f"{file}: no such file; check the --input_model path")
    try:
        model = load_model(file)
    except Exception as exc:  # protobuf DecodeError, missing external data, OS errors...
        raise ModelLoadError(
            f"{file}: cannot be read as an ONNX model ({type(exc).__name__}: {exc}); the file "
            f"may be truncated, not ONNX, or missing its external data files: download it "
            f"again or check the path") from None
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise ModelLoadError(f"{file}: parsed, but it is not a complete ONNX model (no graph, "
                             f"IR version or opset); the file may be truncated: download it again")
    return model


def default_opset(model: onnx.ModelProto, path: str) -> int:
    """The model's ai.onnx opset; 1 for a model whose nodes all lie in other domains (only
    ai.onnx.ml or ai.onnx.preview.training ops), which need not import the default one."""
    for entry in model.opset_import:
        if entry.domain in DEFAULT_DOMAINS:
            return int(entry.version)
    if all(node.domain not in DEFAULT_DOMAINS for node in model.graph.node):
        return 1
    raise ModelLoadError(f"{path}: the model imports no default-domain (ai.onnx) opset")


def element_type(onnx_type: int, what: str) -> str:
    """The IR element type of an ONNX TensorProto data type."""
    try:
        return from_numpy(onnx.helper.tensor_dtype_to_np_dtype(onnx_type))
    except (KeyError, ValueError, TypeError):
        name = onnx.TensorProto.DataType.Name(onnx_type) \
            if onnx_type in onnx.TensorProto.DataType.values() else f"undefined ({onnx_type})"
        raise UserInputError(f"{what} has element type {name}, which OpenVINO IR cannot hold "
                             f"here") from None


def value_info_shape(info: onnx.ValueInfoProto) -> Shape:
    """The declared shape, -1 for a symbolic or missing dimension, None without a shape."""
    tensor_type = info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim)


def value_info_type(info: onnx.ValueInfoProto) -> str:
    if not info.type.HasField("tensor_type"):
        raise UserInputError(f"input {info.name!r} is not a tensor (sequences and maps are not "
                             f"supported)")
    return element_type(info.type.tensor_type.elem_type, f"input {info.name!r}")


def tensor_value(tensor: onnx.TensorProto) -> np.ndarray:
    """A TensorProto as a numpy array of a dtype the IR can hold."""
    element_type(tensor.data_type, f"tensor {tensor.name!r}")
    try:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            array = external_array(tensor)
        else:
            array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError, KeyError, OverflowError, OSError) as exc:  # dims disagree with the data
        raise ModelLoadError(f"tensor {tensor.name!r} is malformed ({exc}); the model file is "
                             "corrupt, export or download it again") from None
    return array if array.flags.c_contiguous else array.copy()


def decode_attribute(attribute: onnx.AttributeProto):
    """An attribute's python value: ints, floats, text, numpy arrays for tensors."""
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, onnx.TensorProto):
        return tensor_value(value)
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8") for v in value]
    return value
