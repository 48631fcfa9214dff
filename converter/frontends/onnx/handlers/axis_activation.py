"""Activations along one axis: LogSoftmax and Hardmax. Before opset 13 both work on the input
coerced to 2D at `axis` (default 1), as Softmax did; from 13 on, along `axis` (default -1)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ._util import flatten_2d, known_rank

AlongAxis = Callable[[OnnxNodeContext, Output, int, bool], Output]


def _coerced_2d(ctx: OnnxNodeContext, along_axis: AlongAxis) -> Output:
    """`along_axis` applied to the input flattened to [N, D] at `axis`, reshaped back; directly
    along the last axis when that is `axis` (the flattening changes nothing then)."""
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    axis = ctx.axis(int(ctx.attr("axis", 1)), rank)
    if axis == rank - 1:
        return along_axis(ctx, data, axis, True)
    flat = flatten_2d(ctx, data, axis, "flatten")
    result = along_axis(ctx, flat, 1, False)
    if data.shape is not None and -1 not in data.shape:
        target = ctx.const(np.array(data.shape, np.int64))
    else:
        target = ctx.helper("ShapeOf", data, suffix="shape", output_type="i64")
    return ctx.op("Reshape", result, target, special_zero=False)


def _along_axis(ctx: OnnxNodeContext, along_axis: AlongAxis) -> Output:
    data = ctx.input(0)
    return along_axis(ctx, data, ctx.axis(int(ctx.attr("axis", -1)), data.rank), True)


def log_softmax_along(ctx: OnnxNodeContext, data: Output, axis: int, final: bool) -> Output:
    if final:
        return ctx.op("LogSoftmax", data, axis=axis)
    return ctx.helper("LogSoftmax", data, suffix="log_softmax", axis=axis)


def hardmax_along(ctx: OnnxNodeContext, data: Output, axis: int, final: bool) -> Output:
    """1 at the first maximum along `axis`, 0 elsewhere: the index a stable TopK(k=1) finds
    (ties keep their order), one-hot encoded back along `axis`."""
    top = ctx.graph.add("TopK", [data, ctx.const(np.array(1, np.int64))],
                        {"axis": axis, "mode": "max", "sort": "value",
                         "index_element_type": "i64", "stable": True},
                        name=f"{ctx.name}/argmax", num_outputs=2)
    index = ctx.helper("Squeeze", top.output(1), ctx.const(np.array([axis], np.int64)),
                       suffix="argmax_index")
    size = data.shape[axis] if data.shape is not None else -1
    if size != -1:
        depth = ctx.const(np.array(size, np.int64))
    else:
        dims = ctx.helper("ShapeOf", data, suffix="shape", output_type="i64")
        depth = ctx.helper("Gather", dims, ctx.const(np.array(axis, np.int64)),
                           ctx.const(np.array(0, np.int64)), suffix="depth", batch_dims=0)
    on, off = ctx.scalar(1, data), ctx.scalar(0, data)
    if final:
        return ctx.op("OneHot", index, depth, on, off, axis=axis)
    return ctx.helper("OneHot", index, depth, on, off, suffix="one_hot", axis=axis)


@registry.register("LogSoftmax")
def log_softmax_coerced(ctx: OnnxNodeContext) -> Output:
    return _coerced_2d(ctx, log_softmax_along)


@registry.register("LogSoftmax", since=13)
def log_softmax(ctx: OnnxNodeContext) -> Output:
    return _along_axis(ctx, log_softmax_along)


@registry.register("Hardmax")
def hardmax_coerced(ctx: OnnxNodeContext) -> Output:
    return _coerced_2d(ctx, hardmax_along)


@registry.register("Hardmax", since=13)
def hardmax(ctx: OnnxNodeContext) -> Output:
    return _along_axis(ctx, hardmax_along)
