"""The activations `activation` does not cover: Selu, Celu, Mish, Softsign, Gelu, Swish, and
Shrink and ThresholdedRelu, which OpenVINO has no op for and are built from comparisons."""
from __future__ import annotations

from ....graph import Output
from ...builders.elementwise import binary, select, unary
from ..context import OnnxNodeContext
from . import registry

SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102214813232421875
GELU_APPROXIMATIONS = {"none": "ERF", "tanh": "TANH"}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


@registry.register("Selu")
def selu(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    alpha = ctx.scalar(float(ctx.attr("alpha", SELU_ALPHA)), data)
    gamma = ctx.scalar(float(ctx.attr("gamma", SELU_GAMMA)), data)
    return ctx.op("Selu", data, alpha, gamma)


@registry.register("Celu", since=12)
def celu(ctx: OnnxNodeContext) -> Output:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), op for op as ONNX defines it."""
    data = ctx.input(0)
    alpha = float(ctx.attr("alpha", 1.0))
    if alpha == 0:
        raise ctx.error("alpha 0 is not allowed")
    g, name = ctx.graph, ctx.name
    scaled = binary(g, "Divide", data, ctx.scalar(alpha, data), name=f"{name}/scaled")
    exp = unary(g, "Exp", scaled, name=f"{name}/exp")
    exp_minus_one = binary(g, "Subtract", exp, ctx.scalar(1, data), name=f"{name}/exp_minus_one")
    negative_part = binary(g, "Multiply", exp_minus_one, ctx.scalar(alpha, data),
                           name=f"{name}/negative_part")
    zero = ctx.scalar(0, data)
    low = binary(g, "Minimum", negative_part, zero, name=f"{name}/min")
    high = binary(g, "Maximum", data, zero, name=f"{name}/max")
    return binary(g, "Add", high, low, name=name)


@registry.register("Mish", since=18)
def mish(ctx: OnnxNodeContext) -> Output:
    return unary(ctx.graph, "Mish", ctx.input(0), name=ctx.name)


@registry.register("Softsign")
def softsign(ctx: OnnxNodeContext) -> Output:
    return unary(ctx.graph, "SoftSign", ctx.input(0), name=ctx.name)


@registry.register("Gelu", since=20)
def gelu(ctx: OnnxNodeContext) -> Output:
    approximate = _text(ctx.attr("approximate", "none"))
    if approximate not in GELU_APPROXIMATIONS:
        raise ctx.error(f"approximate {approximate!r} is neither 'none' nor 'tanh'")
    return ctx.op("Gelu", ctx.input(0), approximation_mode=GELU_APPROXIMATIONS[approximate])


@registry.register("Swish", since=24)
def swish(ctx: OnnxNodeContext) -> Output:
    """x * sigmoid(alpha * x): OpenVINO's Swish with beta = alpha (left out when 1)."""
    data = ctx.input(0)
    alpha = float(ctx.attr("alpha", 1.0))
    if alpha == 1:
        return ctx.op("Swish", data)
    return ctx.op("Swish", data, ctx.scalar(alpha, data))


@registry.register("Shrink", since=9)
def shrink(ctx: OnnxNodeContext) -> Output:
    """x + bias below -lambd, x - bias above lambd, 0 between."""
    data = ctx.input(0)
    lambd, bias = float(ctx.attr("lambd", 0.5)), float(ctx.attr("bias", 0.0))
    g, name = ctx.graph, ctx.name
    below = binary(g, "Less", data, ctx.scalar(-lambd, data), name=f"{name}/below")
    above = binary(g, "Greater", data, ctx.scalar(lambd, data), name=f"{name}/above")
    raised = binary(g, "Add", data, ctx.scalar(bias, data), name=f"{name}/raised")
    lowered = binary(g, "Subtract", data, ctx.scalar(bias, data), name=f"{name}/lowered")
    upper = select(g, above, lowered, ctx.scalar(0, data), name=f"{name}/upper")
    return select(g, below, raised, upper, name=name)


@registry.register("ThresholdedRelu", since=10)
def thresholded_relu(ctx: OnnxNodeContext) -> Output:
    """x above alpha, else 0."""
    data = ctx.input(0)
    above = binary(ctx.graph, "Greater", data, ctx.scalar(float(ctx.attr("alpha", 1.0)), data),
                   name=f"{ctx.name}/above")
    return select(ctx.graph, above, data, ctx.scalar(0, data), name=ctx.name)
