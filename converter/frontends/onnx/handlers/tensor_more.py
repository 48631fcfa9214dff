"""Whole-tensor ops: CenterCropPad, DepthToSpace, SpaceToDepth, OneHot, EyeLike,
ReverseSequence, Unique, NonZero and Col2Im. Sizes and counts may be run-time tensors."""
from __future__ import annotations

from ....graph import Output
from ..context import OnnxNodeContext
from ..model import element_type
from . import registry
from ._runtime_shapes import as_i64, i64_const, shape_of, spread_over_axes
from ._util import known_rank


@registry.register("CenterCropPad", since=18)
def center_crop_pad(ctx: OnnxNodeContext) -> Output:
    """Each of `axes` (all by default) cropped or zero-padded to the target size, centred: a
    Pad by diff = target - size, begin trunc(diff / 2), end the rest (negative pads crop)."""
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    axes = [ctx.axis(a, rank) for a in ctx.ints("axes", list(range(rank)))]
    target = as_i64(ctx, ctx.input(1), "shape_i64")
    sizes = ctx.helper("Gather", shape_of(ctx, data, "shape"), i64_const(ctx, axes),
                       i64_const(ctx, 0), suffix="sizes", batch_dims=0)
    diff = ctx.helper("Subtract", target, sizes, suffix="diff", auto_broadcast="numpy")
    begin = ctx.helper("Divide", diff, i64_const(ctx, 2), suffix="half", auto_broadcast="numpy",
                       m_pythondiv=False)
    end = ctx.helper("Subtract", diff, begin, suffix="rest", auto_broadcast="numpy")
    axes_const = i64_const(ctx, axes)
    begin = spread_over_axes(ctx, begin, axes_const, rank, "pads_begin")
    end = spread_over_axes(ctx, end, axes_const, rank, "pads_end")
    return ctx.op("Pad", data, begin, end, ctx.scalar(0, data), pad_mode="constant")


# ONNX mode -> OpenVINO mode of DepthToSpace and SpaceToDepth
_BLOCK_MODES = {"DCR": "blocks_first", "CRD": "depth_first"}


def _block_move(ctx: OnnxNodeContext, op: str) -> Output:
    mode = ctx.attr("mode", "DCR")
    if mode not in _BLOCK_MODES:
        raise ctx.error(f"mode {mode!r} is not DCR or CRD")
    return ctx.op(op, ctx.input(0), block_size=int(ctx.attr("blocksize")),
                  mode=_BLOCK_MODES[mode])


@registry.register("DepthToSpace")
def depth_to_space(ctx: OnnxNodeContext) -> Output:
    """mode (opset 11): DCR (the default) reads the channels as [block, block, C'], CRD as
    [C', block, block]."""
    return _block_move(ctx, "DepthToSpace")


@registry.register("SpaceToDepth")
def space_to_depth(ctx: OnnxNodeContext) -> Output:
    """The inverse of DepthToSpace in the same mode (DCR unless the node says CRD)."""
    return _block_move(ctx, "SpaceToDepth")


def _scalar(ctx: OnnxNodeContext, tensor: Output, suffix: str) -> Output:
    """A one-element tensor as a 0-D one."""
    if tensor.shape == ():
        return tensor
    return ctx.helper("Reshape", tensor, i64_const(ctx, []), suffix=suffix, special_zero=False)


@registry.register("OneHot", since=9)
def one_hot(ctx: OnnxNodeContext) -> Output:
    """values is [off, on]; depth and indices of any numeric type are read as integers;
    negative indices (opset 11) count from depth, and out-of-range ones give all off."""
    indices = as_i64(ctx, ctx.input(0), "indices_i64")
    depth = _scalar(ctx, as_i64(ctx, ctx.const_input(1), "depth_i64"), "depth")
    values = ctx.input(2)
    off, on = (ctx.helper("Gather", values, i64_const(ctx, i), i64_const(ctx, 0), batch_dims=0,
                          suffix=name) for i, name in enumerate(("off", "on")))
    negative = ctx.helper("Less", indices, i64_const(ctx, 0), suffix="negative",
                          auto_broadcast="numpy")
    shifted = ctx.helper("Add", indices, depth, suffix="shifted", auto_broadcast="numpy")
    indices = ctx.helper("Select", negative, shifted, indices, suffix="indices",
                         auto_broadcast="numpy")
    rank = known_rank(ctx, indices)
    axis = ctx.axis(int(ctx.attr("axis", -1)), rank + 1)
    return ctx.op("OneHot", indices, depth, on, off, axis=axis)


@registry.register("EyeLike", since=9)
def eye_like(ctx: OnnxNodeContext) -> Output:
    """A matrix shaped as the 2-D input with ones on diagonal k, of type dtype (the input's
    by default)."""
    data = ctx.input(0)
    if known_rank(ctx, data) != 2:
        raise ctx.error(f"its input has rank {data.rank}; EyeLike takes a 2-D one")
    dtype = ctx.attr("dtype")
    target = data.element_type if dtype is None else element_type(
        int(dtype), f"EyeLike node {ctx.name!r}'s dtype")
    dims = shape_of(ctx, data, "shape")
    rows, columns = (ctx.helper("Gather", dims, i64_const(ctx, i), i64_const(ctx, 0),
                                suffix=name, batch_dims=0)
                     for i, name in enumerate(("rows", "columns")))
    return ctx.op("Eye", rows, columns, i64_const(ctx, int(ctx.attr("k", 0))),
                  output_type=target)


@registry.register("ReverseSequence", since=10)
def reverse_sequence(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    return ctx.op("ReverseSequence", data, as_i64(ctx, ctx.input(1), "lengths_i64"),
                  batch_axis=ctx.axis(int(ctx.attr("batch_axis", 1)), rank),
                  seq_axis=ctx.axis(int(ctx.attr("time_axis", 0)), rank))


@registry.register("Unique", since=11)
def unique(ctx: OnnxNodeContext) -> list[Output]:
    """Y, the first occurrence of each, the inverse indices and the counts; `sorted` (the
    default) orders Y ascending, else by first occurrence. Without axis the input is
    flattened."""
    data = ctx.input(0)
    inputs = [data]
    axis = ctx.attr("axis")
    if axis is not None:
        inputs.append(i64_const(ctx, [ctx.axis(int(axis), known_rank(ctx, data))]))
    node = ctx.graph.add("Unique", inputs, {"sorted": bool(ctx.attr("sorted", 1)),
                                             "index_element_type": "i64",
                                             "count_element_type": "i64"},
                         name=ctx.name, num_outputs=4)
    return [node.output(i) for i in range(4)]


@registry.register("NonZero", since=9)
def non_zero(ctx: OnnxNodeContext) -> Output:
    return ctx.op("NonZero", ctx.input(0), output_type="i64")


@registry.register("Col2Im", since=18)
def col2im(ctx: OnnxNodeContext) -> Output:
    """OpenVINO's Col2Im rebuilds 2-D images only."""
    data = ctx.input(0)
    block = ctx.input(2)
    spatial = block.shape[0] if block.shape and block.shape[0] != -1 else None
    if spatial != 2:
        raise ctx.error(f"its block_shape has {spatial or 'an unknown number of'} dimensions; "
                        f"OpenVINO's Col2Im rebuilds 2-D images only")
    pads = ctx.ints("pads", [0] * 4)
    return ctx.op("Col2Im", data, as_i64(ctx, ctx.const_input(1), "image_shape_i64"),
                  as_i64(ctx, ctx.const_input(2), "block_shape_i64"),
                  strides=ctx.ints("strides", [1, 1]), dilations=ctx.ints("dilations", [1, 1]),
                  pads_begin=pads[:2], pads_end=pads[2:])
