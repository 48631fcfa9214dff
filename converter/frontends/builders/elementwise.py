"""The element-wise OpenVINO ops frontends map their unary and binary ops onto.

A frontend keeps only its own table (source op name -> OpenVINO op named here); how the
OpenVINO op is built (its attributes, numpy broadcasting) is decided once, below."""
from __future__ import annotations

from typing import Any

from ...errors import InternalError
from ...graph import Graph, Output

UNARY_OPS = frozenset({
    "Abs", "Ceiling", "Erf", "Exp", "Floor", "HSwish", "Log", "Negative", "ReLU", "Sigmoid",
    "SoftPlus", "Sqrt", "Tanh",
    # trigonometric and hyperbolic functions, and further maps
    "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Cos", "Cosh", "Sin", "Sinh", "Tan",
    "Mish", "Sign", "SoftSign",
    # on booleans and bits
    "BitwiseNot", "LogicalNot",
})
BINARY_OPS = frozenset({
    "Add", "Divide", "Equal", "Greater", "Less", "Maximum", "Minimum", "Multiply", "Power",
    "SquaredDifference", "Subtract",
    # remainders: Mod truncates (C's fmod), FloorMod floors (Python's %)
    "FloorMod", "Mod",
    # comparisons and logic, with boolean results
    "GreaterEqual", "LessEqual", "LogicalAnd", "LogicalOr", "LogicalXor",
    # on the bits of integers
    "BitwiseAnd", "BitwiseLeftShift", "BitwiseOr", "BitwiseRightShift", "BitwiseXor",
})


def unary(graph: Graph, op: str, data: Output, name: str) -> Output:
    """The one-input element-wise op `op` (one of UNARY_OPS) applied to `data`."""
    if op not in UNARY_OPS:
        raise InternalError(f"{op!r} is not an element-wise unary OpenVINO op")
    return graph.op(op, data, name=name)


def binary(graph: Graph, op: str, a: Output, b: Output, name: str, **attrs: Any) -> Output:
    """The two-input element-wise op `op` (one of BINARY_OPS) with numpy broadcasting, as both
    ONNX (opset 7 on) and TensorFlow broadcast; `attrs` adds op-specific attributes."""
    if op not in BINARY_OPS:
        raise InternalError(f"{op!r} is not an element-wise binary OpenVINO op")
    return graph.op(op, a, b, name=name, auto_broadcast="numpy", **attrs)


def select(graph: Graph, condition: Output, then: Output, otherwise: Output, name: str) -> Output:
    """`then` where the boolean `condition` holds, else `otherwise`, the three broadcast
    numpy-style."""
    return graph.op("Select", condition, then, otherwise, name=name, auto_broadcast="numpy")
