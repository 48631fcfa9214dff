"""Element-wise arithmetic and activations."""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
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
}


def _scalar(ctx: TFNodeContext, value: float):
    """A scalar constant of the element type of the node's first input."""
    return ctx.graph.const(np.array(value, dtype=to_numpy(ctx.input(0).element_type)),
                           name=f"{ctx.name}/const")


@registry.register(*_BINARY)
def binary(ctx: TFNodeContext):
    return ctx.op(_BINARY[ctx.op_type], ctx.input(0), ctx.input(1), auto_broadcast="numpy")


@registry.register(*_UNARY)
def unary(ctx: TFNodeContext):
    return ctx.op(_UNARY[ctx.op_type], ctx.input(0))


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
    scaled = ctx.aux("Multiply", x, _scalar(ctx, alpha), auto_broadcast="numpy")
    return ctx.op("Maximum" if alpha <= 1 else "Minimum", x, scaled, auto_broadcast="numpy")


@registry.register("Rsqrt")
def rsqrt(ctx: TFNodeContext):
    root = ctx.aux("Sqrt", ctx.input(0))
    return ctx.op("Divide", _scalar(ctx, 1.0), root, auto_broadcast="numpy")


@registry.register("Square")
def square(ctx: TFNodeContext):
    return ctx.op("Multiply", ctx.input(0), ctx.input(0), auto_broadcast="numpy")
