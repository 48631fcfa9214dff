"""OpenVINO element types and their numpy counterparts, in one place.

Besides numpy's own types, the IR holds the narrow floats and 4-bit integers of quantized
models: bf16, f8e4m3, f8e5m2, f8e8m0, f4e2m1, i4 and u4. numpy lacks them; the `ml_dtypes`
package (which onnx depends on) gives each a numpy dtype, one element per byte in memory. In
the .bin the 4-bit types are packed two to a byte (see `converter.ir.packing`).
"""
import ml_dtypes
import numpy as np

# IR element type -> numpy dtype. Order matters only for readability.
_NUMPY = {
    "f64": np.float64,
    "f32": np.float32,
    "f16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "f8e4m3": ml_dtypes.float8_e4m3fn,   # OpenVINO's f8e4m3 is the "fn" variant: no infinities
    "f8e5m2": ml_dtypes.float8_e5m2,
    "f8e8m0": ml_dtypes.float8_e8m0fnu,  # scales only: an exponent, no sign, no mantissa
    "f4e2m1": ml_dtypes.float4_e2m1fn,
    "i64": np.int64,
    "i32": np.int32,
    "i16": np.int16,
    "i8": np.int8,
    "i4": ml_dtypes.int4,
    "u64": np.uint64,
    "u32": np.uint32,
    "u16": np.uint16,
    "u8": np.uint8,
    "u4": ml_dtypes.uint4,
    "boolean": np.bool_,
}
_FROM_NUMPY = {np.dtype(v): k for k, v in _NUMPY.items()}

# Port precision as the XML spells it.
_PRECISION = {
    "f64": "FP64", "f32": "FP32", "f16": "FP16", "bf16": "BF16", "f8e4m3": "F8E4M3",
    "f8e5m2": "F8E5M2", "f8e8m0": "F8E8M0", "f4e2m1": "F4E2M1", "i64": "I64", "i32": "I32",
    "i16": "I16", "i8": "I8", "i4": "I4", "u64": "U64", "u32": "U32", "u16": "U16", "u8": "U8",
    "u4": "U4", "boolean": "BOOL",
}

_FLOATS = ("f64", "f32", "f16", "bf16", "f8e4m3", "f8e5m2", "f8e8m0", "f4e2m1")

# Bits per element where it is not 8 * the numpy itemsize (the packed types).
_PACKED_BITS = {"i4": 4, "u4": 4, "f4e2m1": 4}


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
    return element_type in _FLOATS


def is_narrow_float(element_type: str) -> bool:
    """The floats below f16 (bf16, f8, f4): numpy computes them only through ml_dtypes, and
    OpenVINO's CPU plugin converts them to f32 to compute."""
    return element_type in _FLOATS and element_type not in ("f64", "f32", "f16")


def bits(element_type: str) -> int:
    """Bits one element takes in the IR's .bin."""
    return _PACKED_BITS.get(element_type) or 8 * to_numpy(element_type).itemsize


def float_range(element_type: str) -> tuple[float, float]:
    """The lowest and highest finite value of a float element type."""
    info = ml_dtypes.finfo(to_numpy(element_type))
    return float(info.min), float(info.max)
