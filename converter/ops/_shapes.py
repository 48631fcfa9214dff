"""Shape arithmetic shared by the ops' inference: -1 is a dynamic dimension."""
from __future__ import annotations

import numpy as np

from ..graph import Output, Shape


def const_ints(output: Output) -> list[int] | None:
    """The integers a constant input holds (axes, shapes, pads), or None if it is not constant."""
    value = output.value
    return None if value is None else [int(v) for v in np.ravel(value)]


def broadcast(a: Shape, b: Shape) -> Shape:
    """Numpy-style broadcast of two shapes, dynamic dimensions allowed."""
    if a is None or b is None:
        return None
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        elif x == -1 or y == -1:
            out.append(max(x, y))
        else:
            raise ValueError(f"shapes {a} and {b} do not broadcast")
    return tuple(out)


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def window_output(size: int, kernel: int, stride: int, dilation: int, pad_begin: int,
                  pad_end: int, auto_pad: str, ceil: bool = False) -> int:
    """Output length of a convolution or pooling window along one spatial axis."""
    if size == -1:
        return -1
    if auto_pad in ("same_upper", "same_lower"):
        return -(-size // stride)
    effective = dilation * (kernel - 1) + 1
    if auto_pad == "valid":
        pad_begin = pad_end = 0
    span = size + pad_begin + pad_end - effective
    if ceil:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad_begin:  # the last window must start inside the input
            out -= 1
        return out
    return span // stride + 1


def same_pads(size: int, kernel: int, stride: int, dilation: int, upper: bool = True) -> tuple[int, int]:
    """Explicit (begin, end) pads that `auto_pad=same_*` would use."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)
