"""What several passes share: sweeping until nothing more rewrites, and reading a constant
that holds one number."""
from __future__ import annotations

from typing import Callable

from ..graph import Graph, Output


def until_stable(graph: Graph, sweep: Callable[[Graph], int]) -> int:
    """Run `sweep` (one pass over the graph, returning its rewrites) until it rewrites nothing;
    the rewrites of all of them. Each sweep folds one more link of every chain."""
    total = 0
    while True:
        rewrites = sweep(graph)
        total += rewrites
        if not rewrites:
            return total


def scalar(output: Output) -> float | None:
    """The value of a constant holding one number (of any rank), else None."""
    value = output.value
    if value is None or value.size != 1 or value.dtype.kind not in "fiub":
        return None
    return float(value.reshape(()))
