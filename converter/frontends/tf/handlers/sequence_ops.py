"""Ops sequence models and loop conditions need beside the loops themselves: the logical
operators, comparisons and reductions (Any, All) a while loop's condition or a sequence mask
(Keras Masking) is made of, and ReverseV2 (a backward RNN reads its sequence reversed).

The comparisons are registered here only when the element-wise module does not handle them
(it is imported first), so that one handler serves each op."""
from __future__ import annotations

import numpy as np

from ....ops._shapes import normalize_axis
from ...builders.elementwise import binary, unary
from ..context import TFNodeContext
from . import registry

_BINARY = {"LogicalAnd": "LogicalAnd", "LogicalOr": "LogicalOr",
           "GreaterEqual": "GreaterEqual", "LessEqual": "LessEqual"}


def logical(ctx: TFNodeContext):
    return binary(ctx.graph, _BINARY[ctx.op_type], ctx.input(0), ctx.input(1), name=ctx.name)


def not_equal(ctx: TFNodeContext):
    """A Keras mask (`mask_zero`): the negation of Equal (no NotEqual op is defined here)."""
    equal = binary(ctx.graph, "Equal", ctx.input(0), ctx.input(1), name=f"{ctx.name}/Equal")
    return unary(ctx.graph, "LogicalNot", equal, name=ctx.name)


registry.register(*[op for op in _BINARY if registry.lookup(op) is None])(logical)
if registry.lookup("NotEqual") is None:
    registry.register("NotEqual")(not_equal)


@registry.register("LogicalNot")
def logical_not(ctx: TFNodeContext):
    return unary(ctx.graph, "LogicalNot", ctx.input(0), name=ctx.name)


@registry.register("Any", "All")
def any_all(ctx: TFNodeContext):
    """ReduceLogicalOr / ReduceLogicalAnd over constant axes (or run-time ones)."""
    axes = ctx.const_value(1)
    axes_input = ctx.index_input(1) if axes is None else ctx.ints(np.atleast_1d(axes))
    op = "ReduceLogicalOr" if ctx.op_type == "Any" else "ReduceLogicalAnd"
    return ctx.op(op, ctx.input(0), axes_input, keep_dims=bool(ctx.attr("keep_dims", False)))


@registry.register("ReverseV2")
def reverse_v2(ctx: TFNodeContext):
    """A StridedSlice with stride -1 over the reversed axes (whole axes: begin/end masked)."""
    data = ctx.input(0)
    if data.rank is None:
        raise ctx.error("the rank of its input must be known")
    axes = {normalize_axis(int(a), data.rank) for a in np.ravel(ctx.required_value(1, "axes"))}
    if not axes:
        return data
    strides = [-1 if axis in axes else 1 for axis in range(data.rank)]
    every = [1] * data.rank
    zeros = [0] * data.rank
    return ctx.op("StridedSlice", data, ctx.ints(zeros), ctx.ints(zeros), ctx.ints(strides),
                  begin_mask=every, end_mask=every, new_axis_mask=zeros,
                  shrink_axis_mask=zeros, ellipsis_mask=zeros)
