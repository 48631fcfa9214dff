"""Per-channel vectors made to broadcast over data whose channels lie on a given axis.

A [C] vector (a bias, a scale, a mean) broadcasts numpy-style only along the last axis; for
channels elsewhere (axis 1 of NCHW data) it needs trailing ones: [C, 1, 1] or [1, C, 1, 1].
`channel_axis` may be negative, counted from the end: -1 (NHWC) needs no rank to be known."""
from __future__ import annotations

import numpy as np

from ...errors import InternalError
from ...graph import Graph, Output


def channel_shape(rank: int, channel_axis: int, channels: int = -1) -> list[int]:
    """[1, ..., channels, ..., 1] of length `rank`, `channels` at `channel_axis` (-1 lets a
    Reshape infer the count; 1 gives all ones, also for rank 0)."""
    shape = [1] * rank
    if channels != 1:
        shape[channel_axis] = channels
    return shape


def trailing_axes(rank: int | None, channel_axis: int) -> int:
    """How many axes of data of `rank` follow `channel_axis`."""
    if channel_axis < 0:
        return -channel_axis - 1
    if rank is None:
        raise InternalError(f"channel axis {channel_axis} needs the data's rank, which is unknown")
    return rank - 1 - channel_axis


def reshape_to_channel_axis(graph: Graph, vector: Output, rank: int | None, channel_axis: int,
                            name: str, helper_name: str) -> Output:
    """`vector` reshaped to `channel_shape(rank, channel_axis)` by a Reshape named `name`
    (its target pattern is a constant named `helper_name`)."""
    if rank is None:
        raise InternalError("reshaping a per-channel vector needs the data's rank")
    pattern = graph.const(np.array(channel_shape(rank, channel_axis), np.int64), name=helper_name)
    return graph.op("Reshape", vector, pattern, name=name, special_zero=False)


def unsqueeze_to_channel_axis(graph: Graph, vector: Output, rank: int | None, channel_axis: int,
                              name: str, helper_name: str) -> Output:
    """`vector` with one trailing axis per axis of the data after the channel axis, by an
    Unsqueeze named `name` (its axes are a constant named `helper_name`); the vector itself
    when the channels are last. Leading axes are left to numpy broadcasting."""
    count = trailing_axes(rank, channel_axis)
    if count == 0:
        return vector
    axes = graph.const(np.asarray(list(range(1, count + 1)), dtype=np.int64), name=helper_name)
    return graph.op("Unsqueeze", vector, axes, name=name)
