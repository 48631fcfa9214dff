"""Normalizations over groups of axes: LayerNormalization, RMSNormalization,
GroupNormalization, InstanceNormalization, MeanVarianceNormalization and LpNormalization.

Instance, group and mean-variance normalization are OpenVINO's MVN (over the spatial axes, over
each group's channels and spatial axes, over the given axes), followed by the per-channel scale
and bias. LayerNormalization is decomposed into reductions because it also gives the mean and
the inverse standard deviation it used; RMSNormalization likewise (OpenVINO has no public op).
With `stash_type` float (the default) the statistics are computed in f32 whatever the input's
type, as ONNX asks; the result is converted back."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.elementwise import binary, select, unary
from ...builders.reduction import reduce
from ..context import OnnxNodeContext
from . import registry
from ._util import channel_shaped, known_rank, reshape

STASH_FLOAT = 1  # ONNX's TensorProto.FLOAT, the default stash_type


def _trailing_axes(ctx: OnnxNodeContext, data: Output) -> Output:
    """The axes from the node's axis (default -1) to the last, as an i64 constant."""
    rank = known_rank(ctx, data)
    axis = ctx.axis(int(ctx.attr("axis", -1)), rank)
    return ctx.const(np.arange(axis, rank, dtype=np.int64))


def _stashed(ctx: OnnxNodeContext, data: Output) -> Output:
    """`data` in the type the statistics are computed in (f32 unless stash_type says else)."""
    stash = int(ctx.attr("stash_type", STASH_FLOAT))
    if stash != STASH_FLOAT or data.element_type in ("f32", None):
        return data
    return ctx.helper("Convert", data, suffix="stashed", destination_type="f32")


def _back_to(ctx: OnnxNodeContext, result: Output, like: Output, name: str) -> Output:
    """`result` in the element type of `like` (the node's input), by a Convert named `name`
    when they differ; else `result` itself."""
    if result.element_type == like.element_type:
        return result
    return ctx.graph.op("Convert", result, destination_type=like.element_type, name=name)


def _scaled(ctx: OnnxNodeContext, normalized: Output, scale: Output, bias: Output | None,
            name: str) -> Output:
    """normalized * scale (+ bias), numpy-broadcast; the last op named `name`."""
    g = ctx.graph
    if bias is None:
        return binary(g, "Multiply", normalized, scale, name=name)
    product = binary(g, "Multiply", normalized, scale, name=f"{ctx.name}/scaled")
    return binary(g, "Add", product, bias, name=name)


@registry.register("LayerNormalization", since=17)
def layer_normalization(ctx: OnnxNodeContext) -> list[Output]:
    """Y = (X - mean) * inv_std * scale + B over the axes from `axis` on; also Mean and
    InvStdDev = 1 / sqrt(var + epsilon), with the reduced axes kept as 1."""
    g, name = ctx.graph, ctx.name
    data = ctx.input(0)
    axes = _trailing_axes(ctx, data)
    x = _stashed(ctx, data)
    mean = reduce(g, "ReduceMean", x, axes, True, name=f"{name}/mean")
    centered = binary(g, "Subtract", x, mean, name=f"{name}/centered")
    variance = reduce(g, "ReduceMean", binary(g, "Multiply", centered, centered,
                                              name=f"{name}/squared"),
                      axes, True, name=f"{name}/variance")
    eps = ctx.scalar(float(ctx.attr("epsilon", 1e-5)), variance)
    std = unary(g, "Sqrt", binary(g, "Add", variance, eps, name=f"{name}/var_eps"),
                name=f"{name}/std")
    inv_std = binary(g, "Divide", ctx.scalar(1, std), std, name=f"{name}/inv_std")
    normalized = binary(g, "Multiply", centered, inv_std, name=f"{name}/normalized")
    normalized = _back_to(ctx, normalized, data, f"{name}/normalized_type")
    bias = ctx.input(2) if ctx.has_input(2) else None
    y = _scaled(ctx, normalized, ctx.input(1), bias, name)
    return [y, mean, inv_std]


@registry.register("RMSNormalization", since=23)
def rms_normalization(ctx: OnnxNodeContext) -> Output:
    """Y = X / sqrt(mean(X^2) + epsilon) * scale over the axes from `axis` on."""
    g, name = ctx.graph, ctx.name
    data = ctx.input(0)
    axes = _trailing_axes(ctx, data)
    x = _stashed(ctx, data)
    mean_square = reduce(g, "ReduceMean", binary(g, "Multiply", x, x, name=f"{name}/squared"),
                         axes, True, name=f"{name}/mean_square")
    eps = ctx.scalar(float(ctx.attr("epsilon", 1e-5)), mean_square)
    rms = unary(g, "Sqrt", binary(g, "Add", mean_square, eps, name=f"{name}/mean_square_eps"),
                name=f"{name}/rms")
    normalized = binary(g, "Divide", x, rms, name=f"{name}/normalized")
    normalized = _back_to(ctx, normalized, data, f"{name}/normalized_type")
    return _scaled(ctx, normalized, ctx.input(1), None, name)


def _mvn(ctx: OnnxNodeContext, data: Output, axes: list[int], eps: float, eps_mode: str,
         suffix: str | None) -> Output:
    """OpenVINO's MVN over constant `axes`; named after the node (or `<node>/<suffix>`)."""
    axes_const = ctx.const(np.array(axes, np.int64))
    attrs = {"normalize_variance": True, "eps": eps, "eps_mode": eps_mode}
    if suffix is None:
        return ctx.op("MVN", data, axes_const, **attrs)
    return ctx.helper("MVN", data, axes_const, suffix=suffix, **attrs)


@registry.register("MeanVarianceNormalization", since=9)
def mean_variance_normalization(ctx: OnnxNodeContext) -> Output:
    """(X - mean) / (sqrt(var) + 1e-9) over `axes` (default 0, 2, 3), as ONNX's function
    body computes it."""
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    axes = sorted({ctx.axis(a, rank) for a in ctx.ints("axes", [0, 2, 3])})
    return _mvn(ctx, data, axes, 1e-9, "outside_sqrt", None)


@registry.register("InstanceNormalization", since=6)
def instance_normalization(ctx: OnnxNodeContext) -> Output:
    """MVN over the spatial axes of NC..., then the per-channel scale and bias."""
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    if rank < 3:
        raise ctx.error(f"its input has rank {rank}; instance normalization needs N, C and at "
                        f"least one spatial axis")
    eps = float(ctx.attr("epsilon", 1e-5))
    normalized = _mvn(ctx, data, list(range(2, rank)), eps, "inside_sqrt", "mvn")
    scale = channel_shaped(ctx, ctx.input(1), rank, "scale_shape")
    bias = channel_shaped(ctx, ctx.input(2), rank, "bias_shape")
    return _scaled(ctx, normalized, scale, bias, ctx.name)


def _group_normalized(ctx: OnnxNodeContext, x: Output, groups: int) -> Output:
    """`x` (N, C, ...) normalized over each group of C / groups channels and the spatial axes:
    MVN of x viewed as [N, groups, -1]."""
    grouped = ctx.helper("Reshape", x, ctx.const(np.array([0, groups, -1], np.int64)),
                         suffix="grouped", special_zero=True)
    return _mvn(ctx, grouped, [2], float(ctx.attr("epsilon", 1e-5)), "inside_sqrt", "mvn")


def _ungrouped(ctx: OnnxNodeContext, grouped: Output, like: Output, name: str) -> Output:
    """`grouped` reshaped back to the shape of `like` (a constant when static), by a Reshape
    named `name`."""
    if like.shape is not None and -1 not in like.shape:
        target = ctx.const(np.array(like.shape, np.int64))
    else:
        target = ctx.helper("ShapeOf", like, suffix="shape", output_type="i64")
    return ctx.graph.op("Reshape", grouped, target, name=name, special_zero=False)


def _num_groups(ctx: OnnxNodeContext) -> int:
    groups = ctx.attr("num_groups")
    if groups is None or int(groups) < 1:
        raise ctx.error(f"num_groups {groups} is not a positive number")
    return int(groups)


@registry.register("GroupNormalization", since=18)
def group_normalization_per_group(ctx: OnnxNodeContext) -> Output:
    """Opset 18: scale and bias have one value per group, applied to the grouped view."""
    data = ctx.input(0)
    known_rank(ctx, data)
    groups = _num_groups(ctx)
    normalized = _group_normalized(ctx, data, groups)
    scale = reshape(ctx, ctx.input(1), [1, groups, 1], "scale_shape")
    bias = reshape(ctx, ctx.input(2), [1, groups, 1], "bias_shape")
    scaled = _scaled(ctx, normalized, scale, bias, f"{ctx.name}/grouped_scaled")
    return _ungrouped(ctx, scaled, data, ctx.name)


@registry.register("GroupNormalization", since=21)
def group_normalization(ctx: OnnxNodeContext) -> Output:
    """Opset 21: scale and bias have one value per channel; statistics in the stash type."""
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    normalized = _group_normalized(ctx, _stashed(ctx, data), _num_groups(ctx))
    normalized = _ungrouped(ctx, normalized, data, f"{ctx.name}/ungrouped")
    normalized = _back_to(ctx, normalized, data, f"{ctx.name}/normalized_type")
    scale = channel_shaped(ctx, ctx.input(1), rank, "scale_shape")
    bias = channel_shaped(ctx, ctx.input(2), rank, "bias_shape")
    return _scaled(ctx, normalized, scale, bias, ctx.name)


@registry.register("LpNormalization")
def lp_normalization(ctx: OnnxNodeContext) -> Output:
    """X / ||X||_p along `axis` (p 1 or 2), 0 where the norm is 0."""
    g, name = ctx.graph, ctx.name
    p = int(ctx.attr("p", 2))
    if p not in (1, 2):
        raise ctx.error(f"p {p} is neither 1 nor 2")
    data = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", -1)), data.rank)
    norm = reduce(g, f"ReduceL{p}", data, ctx.const(np.array([axis], np.int64)), True,
                  name=f"{name}/norm")
    quotient = binary(g, "Divide", data, norm, name=f"{name}/quotient")
    zero = ctx.scalar(0, data)
    return select(g, binary(g, "Equal", norm, zero, name=f"{name}/zero_norm"), zero, quotient,
                  name=name)
