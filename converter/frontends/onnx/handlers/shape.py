"""Ops that rearrange a tensor's shape: Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
Concat, Shape, Size, Expand, Tile. Axes and repeats may be run-time tensors."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders import layout
from ..context import OnnxNodeContext
from . import registry
from ._runtime_shapes import (as_i64, i64_const, inserted_axes_shape, interleave,
                              removed_axes_shape, shape_of)
from ._util import flatten_2d, i64 as _i64, known_rank


@registry.register("Reshape")
def reshape_attribute(ctx: OnnxNodeContext) -> Output:
    """Opset < 5: the shape is an attribute; 0 copies the input's dimension."""
    return ctx.op("Reshape", ctx.input(0), _i64(ctx, ctx.ints("shape", [])), special_zero=True)


@registry.register("Reshape", since=5)
def reshape(ctx: OnnxNodeContext) -> Output:
    """0 in the shape copies the input's dimension unless allowzero=1 (opset 14) makes it 0."""
    special_zero = not ctx.attr("allowzero", 0)
    return ctx.op("Reshape", ctx.input(0), ctx.const_input(1), special_zero=special_zero)


@registry.register("Flatten")
def flatten(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    flat = flatten_2d(ctx, data, int(ctx.attr("axis", 1)), "flatten")
    flat.node.name = ctx.graph.unique_name(ctx.name)
    return flat


@registry.register("Transpose")
def transpose(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    perm = ctx.ints("perm") or list(reversed(range(known_rank(ctx, data))))
    return layout.transpose(ctx.graph, data, perm, ctx.name, f"{ctx.name}/const")


def _squeeze(ctx: OnnxNodeContext, axes: list[int] | None) -> Output:
    data = ctx.input(0)
    if not axes:
        return ctx.op("Squeeze", data)
    rank = known_rank(ctx, data)
    return ctx.op("Squeeze", data, _i64(ctx, [ctx.axis(a, rank) for a in axes]))


@registry.register("Squeeze")
def squeeze_attribute(ctx: OnnxNodeContext) -> Output:
    return _squeeze(ctx, ctx.ints("axes"))


@registry.register("Squeeze", since=13)
def squeeze(ctx: OnnxNodeContext) -> Output:
    """Axes known now are checked and normalized. One run-time axis goes to Squeeze as it
    is (it takes negative ones too); for more, the CPU plugin cannot tell Squeeze's output
    rank, so a Reshape to the shape computed from them does it."""
    if not ctx.has_input(1):
        return _squeeze(ctx, None)
    axes = ctx.const_value(1)
    if axes is not None:
        return _squeeze(ctx, [int(a) for a in np.ravel(axes)])
    data, axes_input = ctx.input(0), ctx.input(1)
    count = axes_input.shape
    if count is None or len(count) > 1 or -1 in count:
        raise ctx.error("its axes (input 1) are computed at run time and their number is "
                        "unknown, so the output's rank is unknown")
    count = count[0] if count else 1
    if count == 1:
        return ctx.op("Squeeze", data, as_i64(ctx, axes_input, "axes_i64"))
    rank = known_rank(ctx, data)
    target = removed_axes_shape(ctx, data, axes_input, rank, count, "target")
    return ctx.op("Reshape", data, target, special_zero=False)


def _unsqueeze(ctx: OnnxNodeContext, axes: list[int]) -> Output:
    data = ctx.input(0)
    rank = known_rank(ctx, data) + len(axes)
    return ctx.op("Unsqueeze", data, _i64(ctx, sorted(ctx.axis(a, rank) for a in axes)))


@registry.register("Unsqueeze")
def unsqueeze_attribute(ctx: OnnxNodeContext) -> Output:
    return _unsqueeze(ctx, ctx.ints("axes", []))


@registry.register("Unsqueeze", since=13)
def unsqueeze(ctx: OnnxNodeContext) -> Output:
    """Run-time axes: a Reshape to the shape computed from them, since the CPU plugin cannot
    run an Unsqueeze whose output rank it does not know (the number of axes fixes it)."""
    axes = ctx.const_value(1)
    if axes is not None:
        return _unsqueeze(ctx, [int(a) for a in np.ravel(axes)])
    data, axes_input = ctx.input(0), ctx.input(1)
    if axes_input.shape is None or len(axes_input.shape) != 1 or axes_input.shape[0] == -1:
        raise ctx.error("its axes (input 1) are computed at run time and their number is "
                        "unknown, so the output's rank is unknown")
    out_rank = known_rank(ctx, data) + axes_input.shape[0]
    target = inserted_axes_shape(ctx, data, axes_input, out_rank, "target")
    return ctx.op("Reshape", data, target, special_zero=False)


@registry.register("Concat")
def concat(ctx: OnnxNodeContext) -> Output:
    inputs = [ctx.input(i) for i in range(len(ctx.inputs))]
    axis = ctx.axis(int(ctx.attr("axis", 1)), inputs[0].rank)
    return ctx.op("Concat", *inputs, axis=axis)


@registry.register("Shape")
def shape(ctx: OnnxNodeContext) -> Output:
    """Opset 15 adds start and end: a slice of the shape."""
    data = ctx.input(0)
    start, end = ctx.attr("start"), ctx.attr("end")
    if start is None and end is None:
        return ctx.op("ShapeOf", data, output_type="i64")
    dims = ctx.helper("ShapeOf", data, suffix="shape", output_type="i64")
    stop = np.iinfo(np.int64).max if end is None else int(end)
    return ctx.op("Slice", dims, _i64(ctx, [int(start or 0)]), _i64(ctx, [stop]), _i64(ctx, [1]))


@registry.register("Expand")
def expand(ctx: OnnxNodeContext) -> Output:
    return ctx.op("Broadcast", ctx.input(0), ctx.const_input(1), mode="bidirectional")


@registry.register("Size")
def size(ctx: OnnxNodeContext) -> Output:
    """The element count: the product of the shape, as an i64 scalar."""
    dims = shape_of(ctx, ctx.input(0), "shape")
    return ctx.op("ReduceProd", dims, i64_const(ctx, [0]), keep_dims=False)


@registry.register("Tile")
def tile(ctx: OnnxNodeContext) -> Output:
    """Constant repeats: OpenVINO's Tile. Run-time repeats: a broadcast of the data viewed as
    [1, d0, 1, d1, ...] to [r0, d0, r1, d1, ...], reshaped to [r0*d0, r1*d1, ...] (the CPU
    plugin's Tile computes wrong values when its repeats are not constant)."""
    data = ctx.input(0)
    if ctx.const_value(1) is not None:
        return ctx.op("Tile", data, ctx.const_input(1))
    rank = known_rank(ctx, data)
    repeats = as_i64(ctx, ctx.input(1), "repeats_i64")
    dims = shape_of(ctx, data, "shape")
    ones = i64_const(ctx, [1] * rank)
    spread = ctx.helper("Reshape", data, interleave(ctx, ones, dims, "spread_shape"),
                        suffix="spread", special_zero=False)
    tiled = ctx.helper("Broadcast", spread, interleave(ctx, repeats, dims, "tiled_shape"),
                       suffix="tiled", mode="numpy")
    target = ctx.helper("Multiply", dims, repeats, suffix="target", auto_broadcast="numpy")
    return ctx.op("Reshape", tiled, target, special_zero=False)
