"""Logic, the comparisons with equality, bitwise operators, BitShift and Where."""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
from ....graph import Output
from ...builders.elementwise import binary, select, unary
from ..context import OnnxNodeContext
from . import registry
from .elementwise import _legacy_broadcast

# ONNX op -> (the OpenVINO op, the opset ONNX introduced it in)
RENAMED_BINARY = {
    "And": ("LogicalAnd", 1), "Or": ("LogicalOr", 1), "Xor": ("LogicalXor", 1),
    "LessOrEqual": ("LessEqual", 12), "GreaterOrEqual": ("GreaterEqual", 12),
    "BitwiseAnd": ("BitwiseAnd", 18), "BitwiseOr": ("BitwiseOr", 18),
    "BitwiseXor": ("BitwiseXor", 18),
}


def _renamed_binary(ctx: OnnxNodeContext) -> Output:
    """Before opset 7, And/Or/Xor broadcast only with `broadcast=1`, as the arithmetic did."""
    a, b = ctx.input(0), ctx.input(1)
    if ctx.opset < 7:
        b = _legacy_broadcast(ctx, a, b)
    return binary(ctx.graph, RENAMED_BINARY[ctx.op_type][0], a, b, name=ctx.name)


for _onnx_op, (_, _since) in RENAMED_BINARY.items():
    registry.register(_onnx_op, since=_since)(_renamed_binary)


@registry.register("Not")
def logical_not(ctx: OnnxNodeContext) -> Output:
    return unary(ctx.graph, "LogicalNot", ctx.input(0), name=ctx.name)


@registry.register("BitwiseNot", since=18)
def bitwise_not(ctx: OnnxNodeContext) -> Output:
    return unary(ctx.graph, "BitwiseNot", ctx.input(0), name=ctx.name)


@registry.register("Where", since=9)
def where(ctx: OnnxNodeContext) -> Output:
    return select(ctx.graph, ctx.input(0), ctx.input(1), ctx.input(2), name=ctx.name)


@registry.register("BitShift", since=11)
def bit_shift(ctx: OnnxNodeContext) -> Output:
    """ONNX defines shifts by a negative amount or by the type's width or more: what the sign
    extension alone gives (-1 for a right shift of a negative signed value, else 0). OpenVINO
    leaves them undefined, so such amounts select that fill instead of the shift."""
    direction = ctx.attr("direction")
    if isinstance(direction, bytes):
        direction = direction.decode()
    if direction not in ("LEFT", "RIGHT"):
        raise ctx.error(f"direction {direction!r} is neither LEFT nor RIGHT")
    data, amount = ctx.input(0), ctx.input(1)
    if data.element_type is None:
        raise ctx.error("the element type of its input is unknown")
    dtype = to_numpy(data.element_type)
    bits = dtype.itemsize * 8
    op = "BitwiseLeftShift" if direction == "LEFT" else "BitwiseRightShift"
    shifted = binary(ctx.graph, op, data, amount, name=f"{ctx.name}/shift")
    in_range = binary(ctx.graph, "Less", amount, ctx.scalar(bits, amount),
                      name=f"{ctx.name}/below_width")
    if np.issubdtype(dtype, np.signedinteger):
        not_negative = binary(ctx.graph, "GreaterEqual", amount, ctx.scalar(0, amount),
                              name=f"{ctx.name}/not_negative")
        in_range = binary(ctx.graph, "LogicalAnd", not_negative, in_range,
                          name=f"{ctx.name}/in_range")
    if direction == "RIGHT" and np.issubdtype(dtype, np.signedinteger):
        fill = binary(ctx.graph, "BitwiseRightShift", data, ctx.scalar(bits - 1, data),
                      name=f"{ctx.name}/sign_fill")
    else:
        fill = ctx.scalar(0, data)
    return select(ctx.graph, in_range, shifted, fill, name=ctx.name)
