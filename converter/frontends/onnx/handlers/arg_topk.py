"""ArgMax, ArgMin and TopK, all on OpenVINO's TopK-11.

ArgMax/ArgMin are a TopK with k=1 whose index output is kept: `stable` makes the first of tied
extremes win, as ONNX wants; `select_last_index=1` runs the same TopK over the data reversed
along the axis (a Slice with step -1) and mirrors the index back (size - 1 - index). TopK keeps
its k a run-time input (ONNX gives it as a 1-element tensor, OpenVINO wants a scalar); ties keep
the lower index first, as ONNX specifies."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.elementwise import binary
from ..context import OnnxNodeContext
from . import registry
from ._util import known_rank

INT64_MIN = np.iinfo(np.int64).min


def _top_k(ctx: OnnxNodeContext, data: Output, k: Output, axis: int, mode: str, sort: str,
           name: str):
    """The TopK node (outputs: values, i64 indices)."""
    return ctx.graph.add("TopK", [data, k], {"axis": axis, "mode": mode, "sort": sort,
                                             "index_element_type": "i64", "stable": True},
                         name=name, num_outputs=2)


def _axis_size(ctx: OnnxNodeContext, data: Output, axis: int) -> Output:
    """The length of `data` along `axis`, an i64 scalar (a constant when static)."""
    if data.shape is not None and data.shape[axis] != -1:
        return ctx.const(np.array(data.shape[axis], np.int64))
    dims = ctx.helper("ShapeOf", data, suffix="shape", output_type="i64")
    return ctx.helper("Gather", dims, ctx.const(np.array(axis, np.int64)),
                      ctx.const(np.array(0, np.int64)), suffix="axis_size", batch_dims=0)


def _reversed(ctx: OnnxNodeContext, data: Output, axis: int) -> Output:
    """`data` reversed along `axis`."""
    def i64(value):
        return ctx.const(np.array([value], np.int64))

    return ctx.helper("Slice", data, i64(-1), i64(INT64_MIN), i64(-1), i64(axis),
                      suffix="reversed")


def _arg_extreme(ctx: OnnxNodeContext, mode: str) -> Output:
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    axis = ctx.axis(int(ctx.attr("axis", 0)), rank)
    keep = bool(ctx.attr("keepdims", 1))
    last = bool(ctx.attr("select_last_index", 0))
    source = _reversed(ctx, data, axis) if last else data
    top_name = ctx.name if keep and not last else f"{ctx.name}/top_k"
    top = _top_k(ctx, source, ctx.const(np.array(1, np.int64)), axis, mode, "value", top_name)
    index = top.output(1)
    if last:
        largest = binary(ctx.graph, "Subtract", _axis_size(ctx, data, axis),
                         ctx.const(np.array(1, np.int64)), name=f"{ctx.name}/last_index")
        index = binary(ctx.graph, "Subtract", largest, index,
                       name=ctx.name if keep else f"{ctx.name}/mirrored")
    if keep:
        return index
    return ctx.op("Squeeze", index, ctx.const(np.array([axis], np.int64)))


@registry.register("ArgMax")
def arg_max(ctx: OnnxNodeContext) -> Output:
    return _arg_extreme(ctx, "max")


@registry.register("ArgMin")
def arg_min(ctx: OnnxNodeContext) -> Output:
    return _arg_extreme(ctx, "min")


def _scalar_k(ctx: OnnxNodeContext) -> Output:
    """ONNX's k, a 1-element tensor, as the i64 scalar TopK takes (a constant when known)."""
    value = ctx.const_value(1)
    if value is not None:
        if value.size != 1 or int(np.ravel(value)[0]) < 0:
            raise ctx.error(f"k {value.tolist()} is not one non-negative number")
        return ctx.const(np.array(int(np.ravel(value)[0]), np.int64))
    k = ctx.helper("Convert", ctx.input(1), suffix="k_i64", destination_type="i64")
    return ctx.helper("Reshape", k, ctx.const(np.zeros([0], np.int64)), suffix="k",
                      special_zero=False)


def _top_k_node(ctx: OnnxNodeContext, k: Output) -> list[Output]:
    data = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", -1)), data.rank)
    mode = "max" if int(ctx.attr("largest", 1)) else "min"
    top = _top_k(ctx, data, k, axis, mode, "value", ctx.name)
    return [top.output(0), top.output(1)]


@registry.register("TopK")
def top_k_attribute(ctx: OnnxNodeContext) -> list[Output]:
    """Opset 1: k is an attribute."""
    k = ctx.attr("k")
    if k is None:
        raise ctx.error("it has no k")
    return _top_k_node(ctx, ctx.const(np.array(int(k), np.int64)))


@registry.register("TopK", since=10)
def top_k(ctx: OnnxNodeContext) -> list[Output]:
    """From opset 10 k is an input; from 11 `largest` and `sorted` exist (sorted=0 leaves the
    order open, so sorting by value is a valid reading)."""
    return _top_k_node(ctx, _scalar_k(ctx))
