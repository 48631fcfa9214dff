"""CumSum (OpenVINO's CumSum) and CumProd, which OpenVINO lacks.

CumProd is decomposed exactly (zeros, negatives and integers included, which exp(cumsum(log))
would not be): the axis is moved last, each output position i sees the whole axis through a
[n, n] mask of the input positions j it multiplies (j <= i, j < i when exclusive, j >= i or
j > i in reverse), the others replaced by 1, and a ReduceProd over j gives the products; the
axis is then moved back. The axis may be a run-time input: the permutation that swaps it with
the last axis is then computed at run time."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.elementwise import binary, select
from ...builders.reduction import reduce
from ..context import OnnxNodeContext
from . import registry
from ._util import known_rank

# The input positions j output position i takes: (exclusive, reverse) -> comparison of j to i.
INCLUDED = {(False, False): "LessEqual", (True, False): "Less",
            (False, True): "GreaterEqual", (True, True): "Greater"}


def _scalar_axis(ctx: OnnxNodeContext) -> Output:
    """ONNX's axis (a 0-D or 1-element tensor) as the i64 scalar OpenVINO takes."""
    value = ctx.const_value(1)
    if value is not None:
        if value.size != 1:
            raise ctx.error(f"axis {value.tolist()} is not one number")
        return ctx.const(np.array(int(np.ravel(value)[0]), np.int64))
    axis = ctx.helper("Convert", ctx.input(1), suffix="axis_i64", destination_type="i64")
    return ctx.helper("Reshape", axis, ctx.const(np.zeros([0], np.int64)), suffix="axis",
                      special_zero=False)


def _flags(ctx: OnnxNodeContext) -> tuple[bool, bool]:
    return bool(ctx.attr("exclusive", 0)), bool(ctx.attr("reverse", 0))


@registry.register("CumSum", since=11)
def cum_sum(ctx: OnnxNodeContext) -> Output:
    exclusive, reverse = _flags(ctx)
    return ctx.op("CumSum", ctx.input(0), _scalar_axis(ctx), exclusive=exclusive,
                  reverse=reverse)


def _swap_with_last(ctx: OnnxNodeContext, rank: int) -> Output | None:
    """The permutation swapping the node's axis with the last one (its own inverse): a
    constant for a constant axis (None when it is last already), else computed at run time:
    Select(i == axis, rank - 1, Select(i == rank - 1, axis, i))."""
    value = ctx.const_value(1)
    if value is not None:
        if value.size != 1:
            raise ctx.error(f"axis {value.tolist()} is not one number")
        axis = ctx.axis(int(np.ravel(value)[0]), rank)
        if axis == rank - 1:
            return None
        perm = list(range(rank))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        return ctx.const(np.array(perm, np.int64))
    g, name = ctx.graph, ctx.name
    axis = binary(g, "FloorMod", _scalar_axis(ctx), ctx.const(np.array(rank, np.int64)),
                  name=f"{name}/axis_wrapped")
    positions = ctx.const(np.arange(rank, dtype=np.int64))
    last = ctx.const(np.array(rank - 1, np.int64))
    others = select(g, binary(g, "Equal", positions, last, name=f"{name}/is_last"), axis,
                    positions, name=f"{name}/perm_last")
    return select(g, binary(g, "Equal", positions, axis, name=f"{name}/is_axis"), last, others,
                  name=f"{name}/perm")


def _positions(ctx: OnnxNodeContext, moved: Output) -> Output:
    """0 .. n-1 over the last axis of `moved` (a constant when its length is static)."""
    size = moved.shape[-1] if moved.shape is not None else -1
    if size != -1:
        return ctx.const(np.arange(size, dtype=np.int64))
    dims = ctx.helper("ShapeOf", moved, suffix="shape", output_type="i64")
    length = ctx.helper("Gather", dims, ctx.const(np.array(-1, np.int64)),
                        ctx.const(np.array(0, np.int64)), suffix="length", batch_dims=0)
    return ctx.helper("Range", ctx.const(np.array(0, np.int64)), length,
                      ctx.const(np.array(1, np.int64)), suffix="positions", output_type="i64")


def _products_along_last(ctx: OnnxNodeContext, moved: Output, name: str) -> Output:
    g = ctx.graph
    positions = _positions(ctx, moved)
    outputs = ctx.helper("Unsqueeze", positions, ctx.const(np.array([1], np.int64)),
                         suffix="output_positions")
    included = binary(g, INCLUDED[_flags(ctx)], positions, outputs, name=f"{ctx.name}/included")
    spread = ctx.helper("Unsqueeze", moved, ctx.const(np.array([-2], np.int64)), suffix="spread")
    factors = select(g, included, spread, ctx.scalar(1, moved), name=f"{ctx.name}/factors")
    return reduce(g, "ReduceProd", factors, ctx.const(np.array([-1], np.int64)), False, name=name)


@registry.register("CumProd")
def cum_prod(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    if rank == 0:
        raise ctx.error("its input is a scalar, which has no axis to multiply along")
    perm = _swap_with_last(ctx, rank)
    if perm is None:
        return _products_along_last(ctx, data, ctx.name)
    moved = ctx.helper("Transpose", data, perm, suffix="axis_last")
    products = _products_along_last(ctx, moved, f"{ctx.name}/products")
    return ctx.op("Transpose", products, perm)
