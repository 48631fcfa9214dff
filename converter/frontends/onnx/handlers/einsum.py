"""Einsum (OpenVINO's Einsum, its equation made explicit) and Trilu (no OpenVINO op: the input
where a Range-built triangle mask holds, zero elsewhere)."""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
from ....graph import Output
from ....ops.attention import implicit_output
from ..context import OnnxNodeContext
from . import registry
from ._util import i64


@registry.register("Einsum", since=12)
def einsum(ctx: OnnxNodeContext) -> Output:
    equation = str(ctx.attr("equation", "")).replace(" ", "")
    if not equation:
        raise ctx.error("has no equation")
    if "->" not in equation:
        equation = f"{equation}->{implicit_output(equation)}"
    terms = equation.split("->")[0].split(",")
    if len(terms) != len(ctx.inputs):
        raise ctx.error(f"its equation {equation!r} has {len(terms)} input term(s), but the "
                        f"node has {len(ctx.inputs)} input(s)")
    inputs = [ctx.input(i) for i in range(len(terms))]
    return ctx.op("Einsum", *inputs, equation=equation)


@registry.register("Trilu", since=14)
def trilu(ctx: OnnxNodeContext) -> Output:
    """Keep the elements on and above (upper=1) or on and below (upper=0) the k-th diagonal of
    the last two axes: column - row >= k, or <= k. `k` may be a run-time input."""
    data = ctx.input(0)
    if data.rank is not None and data.rank < 2:
        raise ctx.error(f"its input must have rank 2 or more, not {data.rank}")
    rows = _positions(ctx, data, -2, [-1, 1], "rows")
    columns = _positions(ctx, data, -1, [-1], "columns")
    offset = ctx.helper("Subtract", columns, rows, suffix="diagonal", auto_broadcast="numpy")
    k = _diagonal_k(ctx)
    compare = "GreaterEqual" if int(ctx.attr("upper", 1)) else "LessEqual"
    keep = ctx.helper(compare, offset, k, suffix="keep", auto_broadcast="numpy")
    zero = ctx.const(np.zeros((), to_numpy(data.element_type or "f32")))
    return ctx.op("Select", keep, data, zero, auto_broadcast="numpy")


def _diagonal_k(ctx: OnnxNodeContext) -> Output:
    """The diagonal's offset k as a 0-D i64 tensor (0 without the input)."""
    if not ctx.has_input(1):
        return ctx.const(np.array(0, np.int64))
    k = ctx.const_input(1)
    if k.element_type != "i64":
        k = ctx.helper("Convert", k, suffix="k_i64", destination_type="i64")
    scalar_shape = ctx.const(np.zeros(0, np.int64))
    return ctx.helper("Reshape", k, scalar_shape, suffix="k", special_zero=False)


def _positions(ctx: OnnxNodeContext, data: Output, axis: int, shape: list[int],
               what: str) -> Output:
    """0 .. size-1 along `axis` of `data`, as i64 shaped `shape`."""
    size = data.shape[axis] if data.shape is not None else -1
    if size != -1:
        length = ctx.const(np.array(size, np.int64))
    else:
        dims = ctx.helper("ShapeOf", data, suffix="shape", output_type="i64")
        length = ctx.helper("Gather", dims, ctx.const(np.array(axis, np.int64)),
                            ctx.const(np.array(0, np.int64)), suffix=f"{what}_length",
                            batch_dims=0)
    values = ctx.helper("Range", ctx.const(np.array(0, np.int64)), length,
                        ctx.const(np.array(1, np.int64)), suffix=f"{what}_range",
                        output_type="i64")
    return ctx.helper("Reshape", values, i64(ctx, shape), suffix=what, special_zero=False)
