"""Binary arithmetic and comparisons with numpy broadcasting, and the variadic Max/Min/Sum/Mean."""
from __future__ import annotations

from functools import reduce

from ....element_types import is_float
from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ._util import known_rank, reshape

BINARY = {"Add": "Add", "Sub": "Subtract", "Mul": "Multiply", "Div": "Divide",
          "Equal": "Equal", "Less": "Less", "Greater": "Greater"}
VARIADIC = {"Max": "Maximum", "Min": "Minimum", "Sum": "Add", "Mean": "Add"}


def _legacy_broadcast(ctx: OnnxNodeContext, a: Output, b: Output) -> Output:
    """Before opset 7, `broadcast=1` aligned B with A from `axis` on (default: trailing dims);
    reshaping B with trailing ones makes that numpy broadcasting."""
    if not ctx.attr("broadcast", 0) or ctx.attr("axis") is None:
        return b
    rank_a, rank_b = known_rank(ctx, a), known_rank(ctx, b)
    axis = ctx.axis(int(ctx.attr("axis")), rank_a)
    trailing = rank_a - axis - rank_b
    if trailing <= 0:
        return b
    if b.shape is None or -1 in b.shape:
        raise ctx.error("legacy broadcasting needs B's shape to be static")
    return reshape(ctx, b, [*b.shape, *[1] * trailing], "broadcast_b")


def _binary(ctx: OnnxNodeContext) -> Output:
    a, b = ctx.input(0), ctx.input(1)
    if ctx.opset < 7:
        b = _legacy_broadcast(ctx, a, b)
    if ctx.op_type == "Div" and not is_float(a.element_type or "f32"):
        # ONNX truncates integer quotients toward zero; OpenVINO floors unless told otherwise
        return ctx.op("Divide", a, b, auto_broadcast="numpy", m_pythondiv=False)
    return ctx.op(BINARY[ctx.op_type], a, b, auto_broadcast="numpy")


for _onnx_op in BINARY:
    registry.register(_onnx_op)(_binary)


@registry.register("Pow")
def power(ctx: OnnxNodeContext) -> Output:
    base, exponent = ctx.input(0), ctx.input(1)
    if exponent.element_type != base.element_type:
        exponent = ctx.sub("Convert", exponent, suffix="exponent",
                           destination_type=base.element_type)
    return ctx.op("Power", base, exponent, auto_broadcast="numpy")


def _variadic(ctx: OnnxNodeContext) -> Output:
    inputs = [ctx.input(i) for i in range(len(ctx.inputs))]
    if not inputs:
        raise ctx.error("it has no inputs")
    op = VARIADIC[ctx.op_type]
    if ctx.op_type == "Mean":
        total = reduce(lambda x, y: ctx.sub(op, x, y, suffix="sum", auto_broadcast="numpy"),
                       inputs)
        return ctx.op("Divide", total, ctx.scalar(len(inputs), total), auto_broadcast="numpy")
    if len(inputs) == 1:
        return inputs[0]
    partial = reduce(lambda x, y: ctx.sub(op, x, y, suffix="partial", auto_broadcast="numpy"),
                     inputs[:-1])
    return ctx.op(op, partial, inputs[-1], auto_broadcast="numpy")


for _onnx_op in VARIADIC:
    registry.register(_onnx_op)(_variadic)
