"""OpenVINO element types and their numpy counterparts, in one place."""
import numpy as np

# IR element type -> numpy dtype. Order matters only for readability.
_NUMPY = {
    "f64": np.float64,
    "f32": np.float32,
    "f16": np.float16,
    "i64": np.int64,
    "i32": np.int32,
    "i16": np.int16,
    "i8": np.int8,
    "u64": np.uint64,
    "u32": np.uint32,
    "u16": np.uint16,
    "u8": np.uint8,
    "boolean": np.bool_,
}
_FROM_NUMPY = {np.dtype(v): k for k, v in _NUMPY.items()}

# Port precision as the XML spells it.
_PRECISION = {
    "f64": "FP64", "f32": "FP32", "f16": "FP16", "i64": "I64", "i32": "I32", "i16": "I16",
    "i8": "I8", "u64": "U64", "u32": "U32", "u16": "U16", "u8": "U8", "boolean": "BOOL",
}


def to_numpy(element_type: str) -> np.dtype:
    """The numpy dtype that stores `element_type`."""
    return np.dtype(_NUMPY[element_type])


def from_numpy(dtype) -> str:
    """The IR element type of a numpy dtype; ValueError for one the IR cannot hold."""
    try:
        return _FROM_NUMPY[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"numpy dtype {np.dtype(dtype)} has no OpenVINO element type") from None


def precision(element_type: str) -> str:
    """The port precision attribute (`FP32`, `I64`, ...) of an element type."""
    return _PRECISION[element_type]


def is_float(element_type: str) -> bool:
    return element_type in ("f64", "f32", "f16")
