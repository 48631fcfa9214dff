"""Indexed reads and writes: GatherElements, GatherND, ScatterElements (and the deprecated
Scatter), ScatterND, TensorScatter and Compress. Indices may be run-time tensors."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ._runtime_shapes import as_i64, i64_const, shape_of
from ._util import known_rank

# ONNX reduction attribute -> OpenVINO's reduction of ScatterElementsUpdate / ScatterNDUpdate
_REDUCTIONS = {"none": "none", "add": "sum", "mul": "prod", "min": "min", "max": "max"}


def _reduction(ctx: OnnxNodeContext) -> str:
    reduction = ctx.attr("reduction", "none")
    if reduction not in _REDUCTIONS:
        raise ctx.error(f"reduction {reduction!r} is not one of {', '.join(_REDUCTIONS)}")
    return _REDUCTIONS[reduction]


def _positive_indices(ctx: OnnxNodeContext, data: Output, axis: int) -> Output:
    """The indices (input 1) along `axis` of `data` with negative ones counted from the
    axis' end (ONNX allows them; not every OpenVINO op does). Constant ones are fixed now."""
    value = ctx.const_value(1)
    indices = ctx.input(1)
    if value is not None and data.shape is not None and data.shape[axis] != -1:
        return ctx.const(np.where(value < 0, value + data.shape[axis], value).astype(np.int64))
    indices = as_i64(ctx, indices, "indices_i64")
    size = ctx.helper("Gather", shape_of(ctx, data, "shape"), i64_const(ctx, axis),
                      i64_const(ctx, 0), suffix="axis_size", batch_dims=0)
    negative = ctx.helper("Less", indices, i64_const(ctx, 0), suffix="negative",
                          auto_broadcast="numpy")
    shifted = ctx.helper("Add", indices, size, suffix="shifted", auto_broadcast="numpy")
    return ctx.helper("Select", negative, shifted, indices, suffix="indices",
                      auto_broadcast="numpy")


@registry.register("GatherElements", since=11)
def gather_elements(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", 0)), known_rank(ctx, data))
    indices = _positive_indices(ctx, data, axis)
    return ctx.op("GatherElements", data, indices, axis=axis)


@registry.register("GatherND", since=11)
def gather_nd(ctx: OnnxNodeContext) -> Output:
    """batch_dims (opset 12) leading axes are shared by data and indices."""
    indices = as_i64(ctx, ctx.const_input(1), "indices_i64")
    return ctx.op("GatherND", ctx.input(0), indices, batch_dims=int(ctx.attr("batch_dims", 0)))


def _scatter_elements(ctx: OnnxNodeContext, reduction: str) -> Output:
    data = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", 0)), known_rank(ctx, data))
    indices = _positive_indices(ctx, data, axis)
    return ctx.op("ScatterElementsUpdate", data, indices, ctx.input(2), i64_const(ctx, axis),
                  reduction=reduction, use_init_val=True)


@registry.register("Scatter", since=9)
def scatter(ctx: OnnxNodeContext) -> Output:
    """Deprecated in opset 11 for ScatterElements, which reads it the same way."""
    return _scatter_elements(ctx, "none")


@registry.register("ScatterElements", since=11)
def scatter_elements(ctx: OnnxNodeContext) -> Output:
    """reduction: add and mul from opset 16, min and max from opset 18; repeated indices
    then accumulate."""
    return _scatter_elements(ctx, _reduction(ctx))


@registry.register("ScatterND", since=11)
def scatter_nd(ctx: OnnxNodeContext) -> Output:
    indices = as_i64(ctx, ctx.const_input(1), "indices_i64")
    return ctx.op("ScatterNDUpdate", ctx.input(0), indices, ctx.input(2),
                  reduction=_reduction(ctx))


@registry.register("TensorScatter", since=24)
def tensor_scatter(ctx: OnnxNodeContext) -> Output:
    """The update written into the cache along `axis` at each batch entry's write index
    (0 without write_indices); circular mode wraps the positions around the cache length.
    A ScatterElementsUpdate with indices write_indices[b] + i broadcast to the update."""
    cache, update = ctx.input(0), ctx.input(1)
    rank = known_rank(ctx, cache)
    axis = ctx.axis(int(ctx.attr("axis", -2)), rank)
    if axis == 0:
        raise ctx.error("axis 0 is the batch axis; TensorScatter writes along another one")
    mode = ctx.attr("mode", "linear")
    if mode not in ("linear", "circular"):
        raise ctx.error(f"mode {mode!r} is not linear or circular")
    column = [1] * rank
    column[0] = -1
    if ctx.has_input(2):
        start = as_i64(ctx, ctx.input(2), "write_indices_i64")
    else:
        start = ctx.helper("Broadcast", i64_const(ctx, 0), ctx.helper(
            "Gather", shape_of(ctx, cache, "cache_shape"), i64_const(ctx, [0]),
            i64_const(ctx, 0), suffix="batch", batch_dims=0), suffix="write_indices", mode="numpy")
    start = ctx.helper("Reshape", start, i64_const(ctx, column), suffix="start",
                       special_zero=False)
    update_dims = shape_of(ctx, update, "update_shape")
    length = ctx.helper("Gather", update_dims, i64_const(ctx, axis), i64_const(ctx, 0),
                        suffix="update_length", batch_dims=0)
    steps = ctx.helper("Range", i64_const(ctx, 0), length, i64_const(ctx, 1), suffix="steps",
                       output_type="i64")
    row = [1] * rank
    row[axis] = -1
    steps = ctx.helper("Reshape", steps, i64_const(ctx, row), suffix="steps_along_axis",
                       special_zero=False)
    positions = ctx.helper("Add", start, steps, suffix="positions", auto_broadcast="numpy")
    if mode == "circular":
        cache_length = ctx.helper("Gather", shape_of(ctx, cache, "cache_dims"),
                                  i64_const(ctx, axis), i64_const(ctx, 0),
                                  suffix="cache_length", batch_dims=0)
        positions = ctx.helper("FloorMod", positions, cache_length, suffix="wrapped",
                               auto_broadcast="numpy")
    indices = ctx.helper("Broadcast", positions, update_dims, suffix="indices", mode="numpy")
    return ctx.op("ScatterElementsUpdate", cache, indices, update, i64_const(ctx, axis),
                  reduction="none", use_init_val=True)


@registry.register("Compress", since=9)
def compress(ctx: OnnxNodeContext) -> Output:
    """The slices along `axis` (of the flattened input without one) where the condition
    holds: a Gather of the condition's NonZero positions."""
    data, condition = ctx.input(0), ctx.input(1)
    axis = ctx.attr("axis")
    if axis is None:
        data = ctx.helper("Reshape", data, i64_const(ctx, [-1]), suffix="flat",
                          special_zero=False)
        axis = 0
    else:
        axis = ctx.axis(int(axis), known_rank(ctx, data))
    positions = ctx.helper("NonZero", condition, suffix="positions", output_type="i64")
    positions = ctx.helper("Reshape", positions, i64_const(ctx, [-1]), suffix="kept",
                           special_zero=False)
    return ctx.op("Gather", data, positions, i64_const(ctx, axis), batch_dims=0)
