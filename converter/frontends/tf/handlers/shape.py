"""Ops that move data: reshapes, transposes, concatenation, slicing, padding."""
from __future__ import annotations

import numpy as np

from ....ops._shapes import normalize_axis
from ..context import TFNodeContext
from . import registry

_MIRROR_MODES = {"REFLECT": "reflect", "SYMMETRIC": "symmetric"}


@registry.register("Reshape")
def reshape(ctx: TFNodeContext):
    return ctx.op("Reshape", ctx.input(0), ctx.index_input(1), special_zero=False)


@registry.register("Squeeze")
def squeeze(ctx: TFNodeContext):
    axes = ctx.attr("squeeze_dims") or []
    if not axes:
        return ctx.op("Squeeze", ctx.input(0))
    return ctx.op("Squeeze", ctx.input(0), ctx.ints(axes))


@registry.register("ExpandDims")
def expand_dims(ctx: TFNodeContext):
    axis = np.atleast_1d(ctx.required_value(1))
    return ctx.op("Unsqueeze", ctx.input(0), ctx.ints(axis))


@registry.register("Transpose")
def transpose(ctx: TFNodeContext):
    return ctx.op("Transpose", ctx.input(0), ctx.index_input(1))


@registry.register("ConcatV2")
def concat_v2(ctx: TFNodeContext):
    """Inputs are the tensors then the axis."""
    return _concat(ctx, ctx.inputs[:-1], int(ctx.required_value(len(ctx.inputs) - 1)))


@registry.register("Concat")
def concat(ctx: TFNodeContext):
    """The first version: the axis first, then the tensors."""
    return _concat(ctx, ctx.inputs[1:], int(ctx.required_value(0)))


def _concat(ctx: TFNodeContext, parts, axis: int):
    rank = parts[0].rank
    if rank is not None:
        axis = normalize_axis(axis, rank)
    return ctx.op("Concat", *parts, axis=axis)


@registry.register("Pack")
def pack(ctx: TFNodeContext):
    """Stack N tensors along a new axis: unsqueeze each there, then concatenate."""
    rank = ctx.input(0).rank
    axis = int(ctx.attr("axis", 0))
    if rank is not None:
        axis = normalize_axis(axis, rank + 1)
    elif axis < 0:
        raise ctx.error("a negative axis needs inputs of known rank")
    parts = [ctx.helper("Unsqueeze", part, ctx.ints([axis])) for part in ctx.inputs]
    return ctx.op("Concat", *parts, axis=axis)


@registry.register("StridedSlice")
def strided_slice(ctx: TFNodeContext):
    """TensorFlow's bit masks become OpenVINO's lists of 0/1, one entry per begin index."""
    count = ctx.input(1).shape[0] if ctx.input(1).shape else None
    if count is None or count == -1:
        raise ctx.error("the length of begin must be known")
    masks = {}
    for name in ("begin_mask", "end_mask", "new_axis_mask", "shrink_axis_mask", "ellipsis_mask"):
        bits = int(ctx.attr(name, 0))
        masks[name] = [(bits >> i) & 1 for i in range(count)]
    return ctx.op("StridedSlice", ctx.input(0), ctx.index_input(1), ctx.index_input(2),
                  ctx.index_input(3), **masks)


@registry.register("Pad", "PadV2", "MirrorPad")
def pad(ctx: TFNodeContext):
    paddings = np.asarray(ctx.required_value(1), dtype=np.int64).reshape(-1, 2)
    inputs = [ctx.input(0), ctx.ints(paddings[:, 0]), ctx.ints(paddings[:, 1])]
    if ctx.op_type == "MirrorPad":
        mode = _MIRROR_MODES.get(ctx.attr("mode"))
        if mode is None:
            raise ctx.error(f"mode {ctx.attr('mode')!r} is not REFLECT or SYMMETRIC")
        return ctx.op("Pad", *inputs, pad_mode=mode)
    if ctx.op_type == "PadV2":
        inputs.append(ctx.input(2))
    return ctx.op("Pad", *inputs, pad_mode="constant")
