"""Convolutions, pooling, bias and batch normalization.

OpenVINO's convolutions and pools read NCHW: for NHWC data (TensorFlow's default) the data
goes through Transpose [0,3,1,2] before and [0,2,3,1] after, and the transpose-sinking pass
cancels the pairs that meet. Weights are transposed by ops on constants, which constant
folding turns into constants.
"""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ....ops._shapes import same_pads
from ...builders.batch_norm import batch_norm_inference
from ...builders.elementwise import binary
from ...builders.per_channel import unsqueeze_to_channel_axis
from ..context import NCHW_TO_NHWC, NHWC_TO_NCHW, TFNodeContext
from . import registry

HWIO_TO_OIHW = (3, 2, 0, 1)
HWCM_TO_CMHW = (2, 3, 0, 1)

# The names FusedBatchNorm's helper ops have always had: x * k + b.
_BATCH_NORM_STEPS = {"factor": "k", "scaled_mean": "mean_k", "shift": "b", "factor_type": "k_type",
                     "shift_type": "b_type", "factor_channels": "per_channel",
                     "shift_channels": "per_channel", "scaled": "Multiply"}


def _window(ctx: TFNodeContext, data: Output, kernel: list[int], strides: list[int],
            dilations: list[int], nhwc: bool) -> dict:
    """pads_begin, pads_end and auto_pad for TensorFlow's `padding` on NCHW `data`."""
    padding = ctx.attr("padding")
    zeros = [0] * len(kernel)
    if padding == "VALID":
        return {"pads_begin": zeros, "pads_end": zeros, "auto_pad": "valid"}
    if padding == "EXPLICIT":
        pairs = np.asarray(ctx.attr("explicit_paddings"), dtype=np.int64).reshape(-1, 2)
        spatial = pairs[1:3] if nhwc else pairs[2:4]
        return {"pads_begin": [int(p) for p in spatial[:, 0]],
                "pads_end": [int(p) for p in spatial[:, 1]], "auto_pad": "explicit"}
    if padding != "SAME":
        raise ctx.error(f"padding {padding!r} is not supported")
    sizes = data.shape[2:] if data.shape is not None else [-1] * len(kernel)
    if -1 in sizes:
        return {"pads_begin": zeros, "pads_end": zeros, "auto_pad": "same_upper"}
    pads = [same_pads(n, k, s, d) for n, k, s, d in zip(sizes, kernel, strides, dilations)]
    return {"pads_begin": [p[0] for p in pads], "pads_end": [p[1] for p in pads],
            "auto_pad": "explicit"}


def _nchw_input(ctx: TFNodeContext, nhwc: bool) -> Output:
    data = ctx.input(0)
    return ctx.transpose(data, NHWC_TO_NCHW, "to_nchw") if nhwc else data


def _back(ctx: TFNodeContext, result: Output, nhwc: bool) -> Output:
    return ctx.transpose(result, NCHW_TO_NHWC, "to_nhwc") if nhwc else result


def _convolution(ctx: TFNodeContext, op: str, weights: Output, kernel: list[int]) -> Output:
    nhwc = ctx.is_nhwc()
    data = _nchw_input(ctx, nhwc)
    strides = ctx.spatial(ctx.attr("strides"), nhwc)
    dilations = ctx.spatial(ctx.attr("dilations", [1, 1, 1, 1]), nhwc)
    window = _window(ctx, data, kernel, strides, dilations, nhwc)
    result = ctx.op(op, data, weights, strides=strides, dilations=dilations, **window)
    return _back(ctx, result, nhwc)


@registry.register("Conv2D")
def conv2d(ctx: TFNodeContext):
    filters = ctx.input(1)  # [kh, kw, in, out]
    if filters.shape is None:
        raise ctx.error("the filter's shape must be known")
    weights = ctx.transpose(filters, HWIO_TO_OIHW, "weights")
    groups = _groups(ctx, filters)
    if groups > 1:
        return _convolution(ctx, "GroupConvolution", _grouped(ctx, weights, groups),
                            list(filters.shape[:2]))
    return _convolution(ctx, "Convolution", weights, list(filters.shape[:2]))


def _groups(ctx: TFNodeContext, filters: Output) -> int:
    """How many groups a Conv2D has: its data's channels over the filter's input channels
    (Keras 3 writes `Conv2D(groups=...)`, e.g. ConvNeXt's 7x7 depthwise, as such a Conv2D)."""
    data = ctx.input(0)
    if data.shape is None:
        return 1
    channels = data.shape[-1] if ctx.is_nhwc() else data.shape[1]
    per_group = filters.shape[2]
    if channels == -1 or per_group == -1 or channels == per_group:
        return 1
    if channels % per_group:
        raise ctx.error(f"{channels} input channels are no multiple of the filter's {per_group}")
    return channels // per_group


def _grouped(ctx: TFNodeContext, weights: Output, groups: int) -> Output:
    """OIHW weights [O, I/G, kh, kw] -> GroupConvolution's [G, O/G, I/G, kh, kw]."""
    out_channels, per_group, height, width = weights.shape
    shape = ctx.ints([groups, out_channels // groups, per_group, height, width])
    return ctx.graph.op("Reshape", weights, shape, special_zero=False, name=f"{ctx.name}/groups")


@registry.register("DepthwiseConv2dNative")
def depthwise_conv2d(ctx: TFNodeContext):
    """Filters [kh, kw, C, M] -> GroupConvolution weights [C, M, 1, kh, kw]: C groups."""
    filters = ctx.input(1)
    if filters.shape is None:
        raise ctx.error("the filter's shape must be known")
    per_channel = ctx.transpose(filters, HWCM_TO_CMHW, "weights")
    weights = ctx.graph.op("Unsqueeze", per_channel, ctx.ints([2]), name=f"{ctx.name}/groups")
    return _convolution(ctx, "GroupConvolution", weights, list(filters.shape[:2]))


def _pool(ctx: TFNodeContext, op: str, **extra) -> Output:
    nhwc = ctx.is_nhwc()
    data = _nchw_input(ctx, nhwc)
    kernel = ctx.spatial(ctx.attr("ksize"), nhwc)
    strides = ctx.spatial(ctx.attr("strides"), nhwc)
    window = _window(ctx, data, kernel, strides, [1] * len(kernel), nhwc)
    result = ctx.op(op, data, kernel=kernel, strides=strides, rounding_type="floor",
                    **window, **extra)
    return _back(ctx, result, nhwc)


@registry.register("MaxPool")
def max_pool(ctx: TFNodeContext):
    return _pool(ctx, "MaxPool")


@registry.register("AvgPool")
def avg_pool(ctx: TFNodeContext):
    """TensorFlow averages over the window's real elements only: padding is excluded."""
    return _pool(ctx, "AvgPool", **{"exclude-pad": True})


def _channel_axis(ctx: TFNodeContext, data: Output) -> int:
    """-1 for NHWC data (no rank needed), 1 for NCHW data (of known rank)."""
    if ctx.is_nhwc():
        return -1
    if data.rank is None:
        raise ctx.error("NCHW data needs a known rank")
    return 1


@registry.register("BiasAdd", "BiasAddV1")
def bias_add(ctx: TFNodeContext):
    data = ctx.input(0)
    bias = unsqueeze_to_channel_axis(ctx.graph, ctx.input(1), data.rank, _channel_axis(ctx, data),
                                     f"{ctx.name}/per_channel", f"{ctx.name}/const")
    return binary(ctx.graph, "Add", data, bias, name=ctx.name)


@registry.register("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_batch_norm(ctx: TFNodeContext):
    """The shared scale-and-shift decomposition over the layout's channel axis; the batch
    statistics outputs pass the moving ones on (inference)."""
    if ctx.attr("is_training", False):
        raise ctx.error("is_training=True: freeze the model in inference mode")
    data, scale, offset, mean, variance = (ctx.input(i) for i in range(5))
    result = batch_norm_inference(ctx.graph, data, scale, offset, mean, variance,
                                  epsilon=ctx.attr("epsilon", 1e-3),
                                  channel_axis=_channel_axis(ctx, data), name=ctx.name,
                                  renamed=_BATCH_NORM_STEPS, to_channels=unsqueeze_to_channel_axis)
    return [result, mean, variance, mean, variance, variance]
