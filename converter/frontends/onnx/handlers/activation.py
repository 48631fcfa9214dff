"""Unary activations, the parametrized ones (LeakyRelu, PRelu, Elu, HardSigmoid) and Clip."""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
from ....graph import Output
from ...builders.elementwise import binary, unary
from ..context import OnnxNodeContext
from . import registry
from ._util import channel_shaped, known_rank, reshape

UNARY = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Log": "Log",
         "Sqrt": "Sqrt", "Abs": "Abs", "Neg": "Negative", "Floor": "Floor", "Ceil": "Ceiling",
         "Erf": "Erf", "Softplus": "SoftPlus", "HardSwish": "HSwish"}


def _unary(ctx: OnnxNodeContext) -> Output:
    return unary(ctx.graph, UNARY[ctx.op_type], ctx.input(0), name=ctx.name)


for _onnx_op in UNARY:
    registry.register(_onnx_op)(_unary)


@registry.register("LeakyRelu")
def leaky_relu(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    return ctx.op("PRelu", data, ctx.scalar(ctx.attr("alpha", 0.01), data))


@registry.register("PRelu")
def prelu_legacy(ctx: OnnxNodeContext) -> Output:
    """Before opset 7 a 1-D slope of C values applies per channel (axis 1) of [N, C, ...] data,
    as PyTorch's multi-parameter PReLU exports it; any other slope broadcasts as from 7 on."""
    data, slope = ctx.input(0), ctx.const_input(1)
    rank = known_rank(ctx, data)
    if (rank > 2 and slope.shape is not None and len(slope.shape) == 1 and slope.shape[0] > 1
            and slope.shape[0] == data.shape[1]):
        return ctx.op("PRelu", data, channel_shaped(ctx, slope, rank, "slope"))
    return prelu(ctx)


@registry.register("PRelu", since=7)
def prelu(ctx: OnnxNodeContext) -> Output:
    """ONNX broadcasts the slope numpy-style; OpenVINO would read a 1D slope as per-channel,
    so the slope gets the data's rank first (leading ones)."""
    data, slope = ctx.input(0), ctx.const_input(1)
    rank, slope_rank = known_rank(ctx, data), known_rank(ctx, slope)
    if 0 < slope_rank < rank:
        if slope.shape is None or -1 in slope.shape:
            raise ctx.error("its slope needs a static shape")
        slope = reshape(ctx, slope, [1] * (rank - slope_rank) + list(slope.shape), "slope")
    return ctx.op("PRelu", data, slope)


@registry.register("Elu")
def elu(ctx: OnnxNodeContext) -> Output:
    return ctx.op("Elu", ctx.input(0), alpha=float(ctx.attr("alpha", 1.0)))


@registry.register("HardSigmoid")
def hard_sigmoid(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    alpha = ctx.scalar(ctx.attr("alpha", 0.2), data)
    beta = ctx.scalar(ctx.attr("beta", 0.5), data)
    return ctx.op("HardSigmoid", data, alpha, beta)


def _clip(ctx: OnnxNodeContext, low: float | None, high: float | None) -> Output:
    data = ctx.input(0)
    dtype = to_numpy(data.element_type or "f32")
    limits = np.finfo(dtype) if np.issubdtype(dtype, np.floating) else np.iinfo(dtype)
    low = float(limits.min) if low is None else low
    high = float(limits.max) if high is None else high
    return ctx.op("Clamp", data, min=float(low), max=float(high))


@registry.register("Clip")
def clip_attributes(ctx: OnnxNodeContext) -> Output:
    return _clip(ctx, ctx.attr("min"), ctx.attr("max"))


@registry.register("Clip", since=11)
def clip_inputs(ctx: OnnxNodeContext) -> Output:
    """min and max are optional inputs now: Clamp when they are constant, else Maximum and
    Minimum."""
    bounds = [ctx.const_value(i) if ctx.has_input(i) else None for i in (1, 2)]
    dynamic = [i for i in (1, 2) if ctx.has_input(i) and bounds[i - 1] is None]
    if not dynamic:
        low, high = (None if b is None else float(np.ravel(b)[0]) for b in bounds)
        return _clip(ctx, low, high)
    out = ctx.input(0)
    if ctx.has_input(1):
        out = binary(ctx.graph, "Maximum", out, ctx.input(1), name=f"{ctx.name}/min")
    if ctx.has_input(2):
        out = binary(ctx.graph, "Minimum", out, ctx.input(2), name=ctx.name)
    return out
