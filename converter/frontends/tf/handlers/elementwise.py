"""Element-wise arithmetic and activations."""
from __future__ import annotations

from ...builders.constants import scalar_like
from ...builders.elementwise import binary as binary_op, unary as unary_op
from ..context import TFNodeContext
from . import registry

_BINARY = {
    "Add": "Add", "AddV2": "Add", "Sub": "Subtract", "Mul": "Multiply", "RealDiv": "Divide",
    "Maximum": "Maximum", "Minimum": "Minimum", "SquaredDifference": "SquaredDifference",
    "Pow": "Power", "Less": "Less", "Greater": "Greater", "Equal": "Equal",
}
_UNARY = {
    "Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Log": "Log",
    "Sqrt": "Sqrt", "Abs": "Abs", "Neg": "Negative", "Floor": "Floor", "Ceil": "Ceiling",
    "Erf": "Erf",
}


def _scalar(ctx: TFNodeContext, value: float):
    """A scalar constant of the element type of the node's first input."""
    return scalar_like(ctx.graph, value, ctx.input(0), name=f"{ctx.name}/const")


@registry.register(*_BINARY)
def binary(ctx: TFNodeContext):
    return binary_op(ctx.graph, _BINARY[ctx.op_type], ctx.input(0), ctx.input(1), name=ctx.name)


@registry.register(*_UNARY)
def unary(ctx: TFNodeContext):
    return unary_op(ctx.graph, _UNARY[ctx.op_type], ctx.input(0), name=ctx.name)


@registry.register("Relu6")
def relu6(ctx: TFNodeContext):
    return ctx.op("Clamp", ctx.input(0), min=0.0, max=6.0)


@registry.register("Elu")
def elu(ctx: TFNodeContext):
    return ctx.op("Elu", ctx.input(0), alpha=1.0)


@registry.register("LeakyRelu")
def leaky_relu(ctx: TFNodeContext):
    """max(x, alpha*x) for alpha <= 1, min(x, alpha*x) above: both pick x for x > 0."""
    alpha = float(ctx.attr("alpha", 0.2))
    x = ctx.input(0)
    scaled = binary_op(ctx.graph, "Multiply", x, _scalar(ctx, alpha), name=f"{ctx.name}/Multiply")
    return binary_op(ctx.graph, "Maximum" if alpha <= 1 else "Minimum", x, scaled, name=ctx.name)


@registry.register("Rsqrt")
def rsqrt(ctx: TFNodeContext):
    root = ctx.helper("Sqrt", ctx.input(0))
    return binary_op(ctx.graph, "Divide", _scalar(ctx, 1.0), root, name=ctx.name)


@registry.register("Erfc")
def erfc(ctx: TFNodeContext):
    """1 - erf(x): OpenVINO has no Erfc (Keras' exact GELU is 0.5 * x * erfc(-x / sqrt(2)))."""
    error_function = ctx.helper("Erf", ctx.input(0))
    return binary_op(ctx.graph, "Subtract", _scalar(ctx, 1.0), error_function, name=ctx.name)


@registry.register("Square")
def square(ctx: TFNodeContext):
    return binary_op(ctx.graph, "Multiply", ctx.input(0), ctx.input(0), name=ctx.name)
