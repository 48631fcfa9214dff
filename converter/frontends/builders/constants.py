"""Small constants handlers need beside the ops they translate."""
from __future__ import annotations

import numpy as np

from ...element_types import to_numpy
from ...graph import Graph, Output


def scalar_like(graph: Graph, value: float, like: Output, name: str) -> Output:
    """A 0-D constant of `like`'s element type (f32 while that type is unknown), so that a
    binary op mixing it with `like` needs no Convert."""
    return graph.const(np.asarray(value, dtype=to_numpy(like.element_type or "f32")), name=name)
