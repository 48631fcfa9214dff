"""Shape arithmetic built as OpenVINO ops, for handlers whose axes, repeats or sizes arrive as
tensors computed at run time (model inputs), where the OpenVINO op would need a constant or the
CPU plugin would need a static rank. Every helper names its ops `<node>/<suffix>...`."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext


def i64_const(ctx: OnnxNodeContext, value) -> Output:
    """An i64 constant of the given value and shape (a scalar stays a scalar)."""
    return ctx.const(np.asarray(value, dtype=np.int64))


def as_i64(ctx: OnnxNodeContext, tensor: Output, suffix: str) -> Output:
    """`tensor` converted to i64 unless it already is."""
    if tensor.element_type == "i64":
        return tensor
    return ctx.helper("Convert", tensor, suffix=suffix, destination_type="i64")


def shape_of(ctx: OnnxNodeContext, data: Output, suffix: str) -> Output:
    return ctx.helper("ShapeOf", data, suffix=suffix, output_type="i64")


def inserted_axes_shape(ctx: OnnxNodeContext, data: Output, axes: Output, out_rank: int,
                        suffix: str) -> Output:
    """The shape of `data` (rank `out_rank` - len(axes)) with a 1 inserted at each of `axes`
    (ONNX Unsqueeze, axes of the output, negative ones counted from its end), computed at run
    time: position j of the output is 1 if j is an axis, else input dimension j - (number of
    axes below j)."""
    axes = as_i64(ctx, axes, f"{suffix}/axes_i64")
    axes = ctx.helper("Reshape", axes, i64_const(ctx, [1, -1]), suffix=f"{suffix}/axes_row",
                      special_zero=False)
    axes = ctx.helper("FloorMod", axes, i64_const(ctx, out_rank), suffix=f"{suffix}/axes_mod",
                      auto_broadcast="numpy")
    positions = i64_const(ctx, np.arange(out_rank).reshape(-1, 1))
    one_axis = i64_const(ctx, [1])
    hits = ctx.helper("Equal", positions, axes, suffix=f"{suffix}/is_axis", auto_broadcast="numpy")
    hit_count = ctx.helper("ReduceSum", ctx.helper("Convert", hits, suffix=f"{suffix}/is_axis_i64",
                                                   destination_type="i64"),
                           one_axis, suffix=f"{suffix}/axis_hits", keep_dims=False)
    below = ctx.helper("LessEqual", axes, positions, suffix=f"{suffix}/axes_upto",
                       auto_broadcast="numpy")
    below_count = ctx.helper("ReduceSum", ctx.helper("Convert", below, suffix=f"{suffix}/upto_i64",
                                                     destination_type="i64"),
                             one_axis, suffix=f"{suffix}/axes_below", keep_dims=False)
    source = ctx.helper("Subtract", i64_const(ctx, np.arange(out_rank)), below_count,
                        suffix=f"{suffix}/source", auto_broadcast="numpy")
    source = ctx.helper("Maximum", source, i64_const(ctx, 0), suffix=f"{suffix}/source_clamped",
                        auto_broadcast="numpy")
    dims = ctx.helper("Gather", shape_of(ctx, data, f"{suffix}/data_shape"), source,
                      i64_const(ctx, 0), suffix=f"{suffix}/dims", batch_dims=0)
    is_axis = ctx.helper("Greater", hit_count, i64_const(ctx, 0), suffix=f"{suffix}/inserted",
                         auto_broadcast="numpy")
    return ctx.helper("Select", is_axis, i64_const(ctx, 1), dims, suffix=f"{suffix}/target",
                      auto_broadcast="numpy")


def interleave(ctx: OnnxNodeContext, first: Output, second: Output, suffix: str) -> Output:
    """[a0, b0, a1, b1, ...] of two 1-D tensors of equal length."""
    columns = [ctx.helper("Unsqueeze", t, i64_const(ctx, [1]), suffix=f"{suffix}/col{i}")
               for i, t in enumerate((first, second))]
    pairs = ctx.helper("Concat", *columns, suffix=f"{suffix}/pairs", axis=1)
    return ctx.helper("Reshape", pairs, i64_const(ctx, [-1]), suffix=f"{suffix}/flat",
                      special_zero=False)


def spread_over_axes(ctx: OnnxNodeContext, amounts: Output, axes: Output, rank: int,
                     suffix: str) -> Output:
    """Per-axis amounts of all `rank` axes from amounts of the given `axes` (others 0):
    amount[j] = sum over i of amounts[i] where axes[i] == j (mod rank)."""
    axes = ctx.helper("FloorMod", ctx.helper("Reshape", as_i64(ctx, axes, f"{suffix}/axes_i64"),
                                             i64_const(ctx, [1, -1]), special_zero=False,
                                             suffix=f"{suffix}/axes_row"),
                      i64_const(ctx, rank), suffix=f"{suffix}/axes_mod", auto_broadcast="numpy")
    hits = ctx.helper("Equal", i64_const(ctx, np.arange(rank).reshape(-1, 1)), axes,
                      suffix=f"{suffix}/hits", auto_broadcast="numpy")
    picked = ctx.helper("Multiply", ctx.helper("Convert", hits, destination_type="i64",
                                               suffix=f"{suffix}/hits_i64"),
                        amounts, suffix=f"{suffix}/picked", auto_broadcast="numpy")
    return ctx.helper("ReduceSum", picked, i64_const(ctx, [1]), suffix=suffix, keep_dims=False)


def removed_axes_shape(ctx: OnnxNodeContext, data: Output, axes: Output, rank: int,
                       count: int, suffix: str) -> Output:
    """The shape of `data` (rank `rank`) without its `count` distinct `axes` (ONNX Squeeze,
    negative ones counted from the end), computed at run time: output position i takes the
    dimension of the (i+1)-th kept input position."""
    axes = as_i64(ctx, axes, f"{suffix}/axes_i64")
    axes = ctx.helper("Reshape", axes, i64_const(ctx, [1, -1]), suffix=f"{suffix}/axes_row",
                      special_zero=False)
    axes = ctx.helper("FloorMod", axes, i64_const(ctx, rank), suffix=f"{suffix}/axes_mod",
                      auto_broadcast="numpy")
    hits = ctx.helper("Equal", i64_const(ctx, np.arange(rank).reshape(-1, 1)), axes,
                      suffix=f"{suffix}/is_axis", auto_broadcast="numpy")
    removed = ctx.helper("ReduceSum", ctx.helper("Convert", hits, suffix=f"{suffix}/is_axis_i64",
                                                 destination_type="i64"),
                         i64_const(ctx, [1]), suffix=f"{suffix}/removed", keep_dims=False)
    kept = ctx.helper("Subtract", i64_const(ctx, 1), ctx.helper(
        "Minimum", removed, i64_const(ctx, 1), suffix=f"{suffix}/removed_once",
        auto_broadcast="numpy"), suffix=f"{suffix}/kept", auto_broadcast="numpy")
    upto = np.tril(np.ones((rank, rank), np.int64))  # upto[j, j'] = j' <= j
    kept_upto = ctx.helper("ReduceSum", ctx.helper(
        "Multiply", i64_const(ctx, upto), kept, suffix=f"{suffix}/kept_upto_each",
        auto_broadcast="numpy"), i64_const(ctx, [1]), suffix=f"{suffix}/kept_upto",
        keep_dims=False)
    # match[i, j]: input position j is kept and is the (i+1)-th kept one
    order = i64_const(ctx, np.arange(1, rank - count + 1).reshape(-1, 1))
    is_ith = ctx.helper("Convert", ctx.helper("Equal", order, kept_upto, suffix=f"{suffix}/ith",
                                              auto_broadcast="numpy"),
                        suffix=f"{suffix}/ith_i64", destination_type="i64")
    match = ctx.helper("Multiply", is_ith, kept, suffix=f"{suffix}/match",
                       auto_broadcast="numpy")
    dims = ctx.helper("Multiply", match, shape_of(ctx, data, f"{suffix}/data_shape"),
                      suffix=f"{suffix}/picked", auto_broadcast="numpy")
    return ctx.helper("ReduceSum", dims, i64_const(ctx, [1]), suffix=f"{suffix}/target",
                      keep_dims=False)
