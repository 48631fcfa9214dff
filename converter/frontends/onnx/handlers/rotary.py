"""RotaryEmbedding (opset 23): rotate pairs of each head's first `rotary_embedding_dim`
features by the cached cos/sin of their position, decomposed into Gather, Split, Multiply and
Concat. Pairs are the two halves of the rotated features, or neighbours when `interleaved`."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ._util import i64

# The working layout: 4-D with the features last and a heads axis; cos/sin broadcast over it.
FEATURES = 3


@registry.register("RotaryEmbedding", since=23)
def rotary_embedding(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    if data.rank not in (3, 4):
        raise ctx.error(f"its input must be 3-D or 4-D, not of rank {data.rank}")
    heads_axis = 1 if data.rank == 4 else 2  # [batch, heads, seq, size] or [batch, seq, ...]
    x = data if data.rank == 4 else _split_heads(ctx, data)
    head_size = x.shape[FEATURES]
    if head_size == -1:
        raise ctx.error("the head size (last dimension of the input) must be static")
    rotated = int(ctx.attr("rotary_embedding_dim", 0) or 0) or head_size
    if rotated % 2 or rotated > head_size:
        raise ctx.error(f"rotary_embedding_dim {rotated} must be even and at most the head "
                        f"size {head_size}")
    cos, sin = (_cache(ctx, index, heads_axis, name) for index, name in ((1, "cos"), (2, "sin")))
    to_rotate, kept = _split_rotated(ctx, x, rotated, head_size)
    interleaved = bool(ctx.attr("interleaved", 0))
    first, second = _pairs(ctx, to_rotate, interleaved)
    # (first + i * second) * (cos + i * sin)
    real = ctx.helper("Subtract", _times(ctx, cos, first, "cos_x1"),
                      _times(ctx, sin, second, "sin_x2"), suffix="real", auto_broadcast="numpy")
    imaginary = ctx.helper("Add", _times(ctx, sin, first, "sin_x1"),
                           _times(ctx, cos, second, "cos_x2"), suffix="imaginary",
                           auto_broadcast="numpy")
    final = data.rank == 4  # the last op gives the node's result, under the node's name
    result = _join_pairs(ctx, real, imaginary, rotated, interleaved, final and kept is None)
    if kept is not None:
        result = _concat(ctx, [result, kept], "with_kept", final)
    if data.rank == 3:
        return ctx.op("Reshape", result, i64(ctx, [0, 0, -1]), special_zero=True)
    return result


def _split_rotated(ctx: OnnxNodeContext, x: Output, rotated: int,
                   head_size: int) -> tuple[Output, Output | None]:
    """The first `rotated` features of each head, and the rest (None when there is none)."""
    if rotated == head_size:
        return x, None
    parts = ctx.graph.add("VariadicSplit", [x, ctx.const(np.array(FEATURES, np.int64)),
                                            i64(ctx, [rotated, head_size - rotated])],
                          name=f"{ctx.name}/rotated_part", num_outputs=2)
    return parts.output(0), parts.output(1)


def _split_heads(ctx: OnnxNodeContext, data: Output) -> Output:
    """[batch, seq, heads * size] -> [batch, seq, heads, size] by the num_heads attribute."""
    heads = ctx.attr("num_heads")
    if not heads:
        raise ctx.error("a 3-D input needs the num_heads attribute")
    hidden = data.shape[2]
    size = -1 if hidden == -1 else hidden // int(heads)  # static whenever the width is
    return ctx.helper("Reshape", data, i64(ctx, [0, 0, int(heads), size]), suffix="heads",
                      special_zero=True)


def _cache(ctx: OnnxNodeContext, index: int, heads_axis: int, name: str) -> Output:
    """cos or sin for each [batch, seq] position (looked up by position_ids when given),
    with an axis inserted where the heads are."""
    cache = ctx.input(index)
    if ctx.has_input(3):
        positions = ctx.input(3)
        cache = ctx.helper("Gather", cache, positions, ctx.const(np.array(0, np.int64)),
                           suffix=f"{name}_at_positions", batch_dims=0)
    return ctx.helper("Unsqueeze", cache, i64(ctx, [heads_axis]), suffix=f"{name}_per_head")


def _pairs(ctx: OnnxNodeContext, x: Output, interleaved: bool) -> tuple[Output, Output]:
    """The first and second members of each rotated pair."""
    if not interleaved:
        halves = ctx.graph.add("Split", [x, ctx.const(np.array(FEATURES, np.int64))],
                               {"num_splits": 2}, name=f"{ctx.name}/halves", num_outputs=2)
        return halves.output(0), halves.output(1)
    pairs = ctx.helper("Reshape", x, i64(ctx, [0, 0, 0, -1, 2]), suffix="pairs",
                       special_zero=True)
    split = ctx.graph.add("Split", [pairs, ctx.const(np.array(4, np.int64))],
                          {"num_splits": 2}, name=f"{ctx.name}/neighbours", num_outputs=2)
    last = i64(ctx, [4])
    return (ctx.helper("Squeeze", split.output(0), last, suffix="even"),
            ctx.helper("Squeeze", split.output(1), last, suffix="odd"))


def _join_pairs(ctx: OnnxNodeContext, real: Output, imaginary: Output, rotated: int,
                interleaved: bool, final: bool) -> Output:
    """The rotated pairs back in their places: halves side by side, or neighbours."""
    if not interleaved:
        return _concat(ctx, [real, imaginary], "rotated", final)
    last = i64(ctx, [4])
    stacked = _concat(ctx, [ctx.helper("Unsqueeze", real, last, suffix="real_pair"),
                            ctx.helper("Unsqueeze", imaginary, last, suffix="imaginary_pair")],
                      "stacked", False, axis=4)
    target = i64(ctx, [0, 0, 0, rotated])
    if final:
        return ctx.op("Reshape", stacked, target, special_zero=True)
    return ctx.helper("Reshape", stacked, target, suffix="rotated", special_zero=True)


def _concat(ctx: OnnxNodeContext, parts: list[Output], what: str, final: bool,
            axis: int = FEATURES) -> Output:
    if final:
        return ctx.op("Concat", *parts, axis=axis)
    return ctx.helper("Concat", *parts, suffix=what, axis=axis)


def _times(ctx: OnnxNodeContext, a: Output, b: Output, what: str) -> Output:
    return ctx.helper("Multiply", a, b, suffix=what, auto_broadcast="numpy")
