"""What several passes share: one sweep replacing nodes, sweeping until nothing more
rewrites, whether a node has a single reader, and reading a constant that holds one number."""
from __future__ import annotations

from typing import Callable

from ..graph import Graph, Node, Output


def replace_each(graph: Graph, rewrite: Callable[[Node], Output | None]) -> int:
    """One topological sweep: every node for which `rewrite(node)` gives an output is
    replaced by it (its readers read that output from then on); how many were replaced."""
    sweep = graph.sweep()
    rewrites = 0
    for node in sweep:
        replacement = rewrite(node)
        if replacement is not None:
            sweep.replace(node.output(), replacement)
            rewrites += 1
    return rewrites


def single_reader(node: Node, uses: dict[int, list]) -> bool:
    """Whether exactly one input reads `node` (`uses` from `Graph.consumers()`): only then can
    a rewrite fold it into its reader without changing what another reads."""
    return len(uses.get(id(node), [])) == 1


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
