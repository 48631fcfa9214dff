"""ONNX's reductions. ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd, ReduceL1 and
ReduceL2 are OpenVINO ops of the same names (ReduceMax and ReduceMin of booleans run on
integers, those of floats mind infinities); ReduceSumSquare, ReduceLogSum and ReduceLogSumExp are decomposed around a ReduceSum.

Axes are an attribute, or from opset 18 (ReduceSum: 13) an optional input, which may be
computed at run time: OpenVINO's reductions take it as an input too. No axes (or an empty list)
reduces every axis, unless `noop_with_empty_axes=1` makes the node an identity; an empty list
is also what OpenVINO reads as "reduce nothing", so only the every-axis reading needs care."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ....element_types import is_float
from ....graph import Output
from ...builders.elementwise import binary, select, unary
from ...builders.reduction import reduce
from ..context import OnnxNodeContext
from . import registry
from ._util import known_rank

# ONNX reductions OpenVINO has under the same name.
REDUCTIONS = {op: op for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd",
                                "ReduceL1", "ReduceL2")}
AXES_INPUT_SINCE = {"ReduceSum": 13}

Axes = "list[int] | Output | None"


def _static_length(axes: Output) -> int | None:
    shape = axes.shape
    if shape is None or len(shape) != 1 or shape[0] == -1:
        return None
    return shape[0]


def _every_axis(ctx: OnnxNodeContext, data: Output) -> Output:
    return ctx.const(np.arange(known_rank(ctx, data), dtype=np.int64))


def _every_axis_when_empty(ctx: OnnxNodeContext, data: Output, axes: Output) -> Output:
    """Run-time `axes` of unknown length, with every axis appended when it is empty:
    Concat(axes, range(rank)[: rank * (len(axes) == 0)])."""
    rank = known_rank(ctx, data)
    count = ctx.helper("ShapeOf", axes, suffix="axes_count", output_type="i64")
    empty = binary(ctx.graph, "Equal", count, ctx.const(np.array([0], np.int64)),
                   name=f"{ctx.name}/axes_empty")
    empty = ctx.helper("Convert", empty, suffix="axes_empty_i64", destination_type="i64")
    stop = binary(ctx.graph, "Multiply", empty, ctx.const(np.array([rank], np.int64)),
                  name=f"{ctx.name}/every_axis_count")
    every = ctx.helper("Slice", _every_axis(ctx, data), ctx.const(np.array([0], np.int64)), stop,
                       ctx.const(np.array([1], np.int64)), suffix="every_axis")
    axes = ctx.helper("Convert", axes, suffix="axes_i64", destination_type="i64")
    return ctx.helper("Concat", axes, every, suffix="axes", axis=0)


def reduction_axes(ctx: OnnxNodeContext, data: Output, axes: Axes) -> Output | None:
    """The axes input of the OpenVINO reduction, or None when the node reduces nothing.
    `axes` is the node's: a constant list, a run-time input, or None when absent."""
    noop = bool(ctx.attr("noop_with_empty_axes", 0))
    if isinstance(axes, Output):
        length = _static_length(axes)
        if length is None and not noop:
            return _every_axis_when_empty(ctx, data, axes)
        if length != 0:
            return axes
        axes = []
    if not axes:
        return None if noop else _every_axis(ctx, data)
    rank = data.rank
    return ctx.const(np.array(sorted({ctx.axis(a, rank) for a in axes}), np.int64))


def _sum_square(ctx, data, axes, keep, name):
    squares = binary(ctx.graph, "Multiply", data, data, name=f"{ctx.name}/square")
    return reduce(ctx.graph, "ReduceSum", squares, axes, keep, name=name)


def _log_sum(ctx, data, axes, keep, name):
    total = reduce(ctx.graph, "ReduceSum", data, axes, keep, name=f"{ctx.name}/sum")
    return unary(ctx.graph, "Log", total, name=name)


def _log_sum_exp(ctx, data, axes, keep, name):
    """log(sum(exp(x - m))) + m with m the maximum, so that large values do not overflow."""
    g = ctx.graph
    peak = reduce(g, "ReduceMax", data, axes, True, name=f"{ctx.name}/max")
    shifted = unary(g, "Exp", binary(g, "Subtract", data, peak, name=f"{ctx.name}/shifted"),
                    name=f"{ctx.name}/exp")
    total = unary(g, "Log", reduce(g, "ReduceSum", shifted, axes, keep, name=f"{ctx.name}/sum"),
                  name=f"{ctx.name}/log")
    if not keep:
        peak = reduce(g, "ReduceMax", data, axes, False, name=f"{ctx.name}/max_reduced")
    return binary(g, "Add", total, peak, name=name)


def _any_or_all(ctx, op, flags, axes, keep, name):
    """ReduceMax (any) or ReduceMin (all) of booleans, computed on integers: OpenVINO's CPU
    plugin does not implement ReduceLogicalOr/And."""
    numbers = ctx.helper("Convert", flags, suffix=f"{name.rsplit('/', 1)[-1]}_as_int",
                         destination_type="i32")
    reduced = reduce(ctx.graph, op, numbers, axes, keep, name=f"{name}/reduce")
    return ctx.graph.op("Convert", reduced, destination_type="boolean", name=name)


def _boolean(ctx, data, axes, keep, name):
    return _any_or_all(ctx, ctx.op_type, data, axes, keep, name)


def _float_extreme(ctx, data, axes, keep, name):
    """ReduceMax (ReduceMin) of floats. OpenVINO's CPU plugin starts from the lowest (highest)
    finite value, so over -inf (+inf) values alone, or over no values, it gives that finite
    value where ONNX has the infinity: where no element lies above -inf (below +inf), the
    result is that infinity."""
    g = ctx.graph
    is_max = ctx.op_type == "ReduceMax"
    bound = ctx.scalar(-np.inf if is_max else np.inf, data)
    reduced = reduce(g, ctx.op_type, data, axes, keep, name=f"{ctx.name}/finite")
    inside = binary(g, "Greater" if is_max else "Less", data, bound, name=f"{ctx.name}/inside")
    any_inside = _any_or_all(ctx, "ReduceMax", inside, axes, keep, f"{ctx.name}/any_inside")
    return select(g, any_inside, reduced, bound, name=name)


def _direct(ctx, data, axes, keep, name):
    return reduce(ctx.graph, REDUCTIONS[ctx.op_type], data, axes, keep, name=name)


Reduction = Callable[[OnnxNodeContext, Output, Output, bool, str], Output]
DECOMPOSED: dict[str, Reduction] = {
    "ReduceSumSquare": _sum_square, "ReduceLogSum": _log_sum, "ReduceLogSumExp": _log_sum_exp,
}


def _reduction(ctx: OnnxNodeContext, data: Output) -> Reduction:
    if ctx.op_type in DECOMPOSED:
        return DECOMPOSED[ctx.op_type]
    if ctx.op_type in ("ReduceMax", "ReduceMin"):
        if data.element_type == "boolean":
            return _boolean
        if is_float(data.element_type or ""):
            return _float_extreme
    return _direct


def _identity(ctx: OnnxNodeContext, data: Output) -> Output:
    """What a reduction over no axes leaves: the element-wise part of the reduction (the
    square of ReduceSumSquare, the log of ReduceLogSum, ...), as ONNX's reference computes."""
    g, name = ctx.graph, ctx.name
    if ctx.op_type == "ReduceSumSquare":
        return binary(g, "Multiply", data, data, name=name)
    if ctx.op_type == "ReduceLogSum":
        return unary(g, "Log", data, name=name)
    if ctx.op_type == "ReduceLogSumExp":
        return unary(g, "Log", unary(g, "Exp", data, name=f"{name}/exp"), name=name)
    if ctx.op_type in ("ReduceL1", "ReduceL2"):
        return unary(g, "Abs", data, name=name)
    return data


def _drop_reduced_axes(ctx: OnnxNodeContext, kept: Output, axes: Output, rank: int,
                       name: str) -> Output:
    """`kept` (reduced with keep_dims over run-time `axes` of static length n) reshaped to
    rank - n without the reduced axes. OpenVINO cannot tell the rank of keep_dims=false over
    two or more run-time axes (they might repeat), and the CPU plugin needs it. The target
    shape gathers the dimensions of `kept` not reduced: a TopK(k = rank - n) of the keys
    (rank - i for a kept axis i, 0 for a reduced one) finds them in ascending order."""
    g = ctx.graph
    count = _static_length(axes)
    if count >= rank:
        return g.op("Reshape", kept, ctx.const(np.zeros([0], np.int64)), name=name,
                    special_zero=False)
    positions = ctx.const(np.arange(rank, dtype=np.int64).reshape(rank, 1))
    axes = ctx.helper("Convert", axes, suffix="axes_i64", destination_type="i64")
    wrapped = binary(g, "FloorMod", axes, ctx.const(np.array(rank, np.int64)),
                     name=f"{ctx.name}/axes_wrapped")
    hits = binary(g, "Equal", positions, wrapped, name=f"{ctx.name}/axis_hits")
    hits = ctx.helper("Convert", hits, suffix="axis_hits_i64", destination_type="i64")
    reduced = reduce(g, "ReduceMax", hits, ctx.const(np.array([1], np.int64)), False,
                     name=f"{ctx.name}/is_reduced")
    not_reduced = binary(g, "Subtract", ctx.const(np.array(1, np.int64)), reduced,
                         name=f"{ctx.name}/is_kept")
    keys = binary(g, "Multiply", not_reduced, ctx.const(np.arange(rank, 0, -1, dtype=np.int64)),
                  name=f"{ctx.name}/kept_keys")
    top = g.add("TopK", [keys, ctx.const(np.array(rank - count, np.int64))],
                {"axis": 0, "mode": "max", "sort": "value", "index_element_type": "i64",
                 "stable": True}, name=f"{ctx.name}/kept_axes", num_outputs=2)
    dims = ctx.helper("ShapeOf", kept, suffix="kept_shape", output_type="i64")
    target = ctx.helper("Gather", dims, top.output(1), ctx.const(np.array(0, np.int64)),
                        suffix="target_shape", batch_dims=0)
    return g.op("Reshape", kept, target, name=name, special_zero=False)


def _reduce(ctx: OnnxNodeContext, axes: Axes) -> Output:
    data = ctx.input(0)
    axes = reduction_axes(ctx, data, axes)
    if axes is None:
        return _identity(ctx, data)
    return _reduce_over(ctx, data, axes, bool(ctx.attr("keepdims", 1)), ctx.name)


def _reduce_over(ctx: OnnxNodeContext, data: Output, axes: Output, keep: bool,
                 name: str) -> Output:
    reduction = _reduction(ctx, data)
    count = None if axes.value is not None else _static_length(axes)
    if keep or count is None or count < 2 or data.rank is None:
        return reduction(ctx, data, axes, keep, name)
    kept = reduction(ctx, data, axes, True, f"{ctx.name}/keep_dims")
    return _drop_reduced_axes(ctx, kept, axes, data.rank, name)


def _axes_attribute(ctx: OnnxNodeContext) -> Output:
    return _reduce(ctx, ctx.ints("axes"))


def _axes_input(ctx: OnnxNodeContext) -> Output:
    """Constant axes are read now (so that shapes stay static); others stay an input."""
    if not ctx.has_input(1):
        return _reduce(ctx, None)
    value = ctx.const_value(1)
    if value is not None:
        return _reduce(ctx, [int(a) for a in np.ravel(value)])
    return _reduce(ctx, ctx.input(1))


for _onnx_op in (*REDUCTIONS, *DECOMPOSED):
    registry.register(_onnx_op)(_axes_attribute)
    registry.register(_onnx_op, since=AXES_INPUT_SINCE.get(_onnx_op, 18))(_axes_input)
