"""Ops that rearrange a tensor's shape: Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
Concat, Shape, Expand, Tile."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders import layout
from ..context import OnnxNodeContext
from . import registry
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
    axes = ctx.required_value(1, "axes") if ctx.has_input(1) else None
    return _squeeze(ctx, None if axes is None else [int(a) for a in np.ravel(axes)])


def _unsqueeze(ctx: OnnxNodeContext, axes: list[int]) -> Output:
    data = ctx.input(0)
    rank = known_rank(ctx, data) + len(axes)
    return ctx.op("Unsqueeze", data, _i64(ctx, sorted(ctx.axis(a, rank) for a in axes)))


@registry.register("Unsqueeze")
def unsqueeze_attribute(ctx: OnnxNodeContext) -> Output:
    return _unsqueeze(ctx, ctx.ints("axes", []))


@registry.register("Unsqueeze", since=13)
def unsqueeze(ctx: OnnxNodeContext) -> Output:
    return _unsqueeze(ctx, [int(a) for a in np.ravel(ctx.required_value(1, "axes"))])


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


@registry.register("Tile")
def tile(ctx: OnnxNodeContext) -> Output:
    return ctx.op("Tile", ctx.input(0), ctx.const_input(1))
