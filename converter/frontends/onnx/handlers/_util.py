"""Building blocks several handler families share."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.per_channel import reshape_to_channel_axis
from ...builders.reduction import reduce
from ..context import OnnxNodeContext

AUTO_PAD = {"NOTSET": "explicit", "SAME_UPPER": "same_upper", "SAME_LOWER": "same_lower",
            "VALID": "valid"}


def i64(ctx: OnnxNodeContext, values) -> Output:
    """A 1-D i64 constant: axes, pads, shapes."""
    return ctx.const(np.array(values, dtype=np.int64).reshape(-1))


def reshape(ctx: OnnxNodeContext, data: Output, pattern: list[int] | Output, suffix: str) -> Output:
    target = pattern if isinstance(pattern, Output) else ctx.const(np.array(pattern, np.int64))
    return ctx.helper("Reshape", data, target, suffix=suffix, special_zero=False)


def known_rank(ctx: OnnxNodeContext, data: Output) -> int:
    if data.rank is None:
        raise ctx.error("the rank of its input is unknown; give the model's inputs a shape "
                        "(--input_shape)")
    return data.rank


def channel_shaped(ctx: OnnxNodeContext, per_channel: Output, rank: int, suffix: str) -> Output:
    """A per-channel vector [C] shaped [1, C, 1, ...] to broadcast over NC... data of `rank`."""
    return reshape_to_channel_axis(ctx.graph, per_channel, rank, 1, f"{ctx.name}/{suffix}",
                                   f"{ctx.name}/const")


def flatten_2d(ctx: OnnxNodeContext, data: Output, axis: int, suffix: str) -> Output:
    """`data` as [prod(dims before axis), prod(dims from axis)], as ONNX Flatten and the
    opset < 13 Softmax coerce it; ShapeOf-based when neither product is static."""
    shape = data.shape
    rank = known_rank(ctx, data)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        raise ctx.error(f"axis {axis} is out of range for rank {rank}")
    left, right = shape[:axis], shape[axis:]
    if -1 not in left:
        return reshape(ctx, data, [int(np.prod(left)), -1], suffix)
    if -1 not in right:
        return reshape(ctx, data, [-1, int(np.prod(right))], suffix)
    dims = ctx.helper("ShapeOf", data, suffix=f"{suffix}/shape", output_type="i64")
    zero, end = ctx.const(np.array([0], np.int64)), ctx.const(np.array([rank], np.int64))
    split, one = ctx.const(np.array([axis], np.int64)), ctx.const(np.array([1], np.int64))
    axes0 = ctx.const(np.array([0], np.int64))
    parts = []
    for begin, stop, part in ((zero, split, "left"), (split, end, "right")):
        dims_part = ctx.helper("Slice", dims, begin, stop, one, suffix=f"{suffix}/{part}")
        parts.append(reduce(ctx.graph, "ReduceProd", dims_part, axes0, keep_dims=True,
                            name=f"{ctx.name}/{suffix}/{part}_size"))
    target = ctx.helper("Concat", *parts, suffix=f"{suffix}/target", axis=0)
    return reshape(ctx, data, target, suffix)


def window_attrs(ctx: OnnxNodeContext, spatial: int) -> dict:
    """strides, pads and auto_pad of Conv and pooling, as OpenVINO names them."""
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if auto_pad not in AUTO_PAD:
        raise ctx.error(f"auto_pad {auto_pad!r} is not one of {', '.join(AUTO_PAD)}")
    pads = ctx.ints("pads", [0] * (2 * spatial))
    if AUTO_PAD[auto_pad] != "explicit":
        pads = [0] * (2 * spatial)
    return {"strides": ctx.ints("strides", [1] * spatial), "pads_begin": pads[:spatial],
            "pads_end": pads[spatial:], "auto_pad": AUTO_PAD[auto_pad]}
