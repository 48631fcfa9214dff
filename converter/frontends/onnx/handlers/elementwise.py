"""Binary arithmetic and comparisons with numpy broadcasting, and the variadic Max/Min/Sum/Mean."""
from __future__ import annotations

from functools import reduce

from ....element_types import is_float
from ....graph import Output
from ...builders.elementwise import binary
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
        return binary(ctx.graph, "Divide", a, b, name=ctx.name, m_pythondiv=False)
    return binary(ctx.graph, BINARY[ctx.op_type], a, b, name=ctx.name)


for _onnx_op in BINARY:
    registry.register(_onnx_op)(_binary)


@registry.register("Pow")
def power(ctx: OnnxNodeContext) -> Output:
    base, exponent = ctx.input(0), ctx.input(1)
    if exponent.element_type != base.element_type:
        exponent = ctx.helper("Convert", exponent, suffix="exponent",
                              destination_type=base.element_type)
    return binary(ctx.graph, "Power", base, exponent, name=ctx.name)


def _variadic(ctx: OnnxNodeContext) -> Output:
    inputs = [ctx.input(i) for i in range(len(ctx.inputs))]
    if not inputs:
        raise ctx.error("it has no inputs")
    op, g = VARIADIC[ctx.op_type], ctx.graph
    if ctx.op_type == "Mean":
        total = reduce(lambda x, y: binary(g, op, x, y, name=f"{ctx.name}/sum"), inputs)
        return binary(g, "Divide", total, ctx.scalar(len(inputs), total), name=ctx.name)
    if len(inputs) == 1:
        return inputs[0]
    partial = reduce(lambda x, y: binary(g, op, x, y, name=f"{ctx.name}/partial"), inputs[:-1])
    return binary(g, op, partial, inputs[-1], name=ctx.name)


for _onnx_op in VARIADIC:
    registry.register(_onnx_op)(_variadic)
