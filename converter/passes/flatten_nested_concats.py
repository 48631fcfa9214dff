"""Merge a Concat that feeds only another Concat on the same axis into it.

Before: Concat(a, Concat(b, c), d)            (axis k both)
After:  Concat(a, b, c, d)                    (axis k)

Inception blocks concatenate branches that are themselves concatenations (InceptionV3's mixed9
and mixed10); ovc's IR has one Concat there, and so does ours after this pass. The inner
Concat must have no other consumer (or it would still be computed) and must join along the
same axis, counted from the front (negative axes are normalized with the rank).
The outer Concat's inputs are edited in place; in topological order an inner Concat has
already absorbed its own inner ones, so one sweep flattens any depth.
"""
from __future__ import annotations

from ..graph import Graph, Node, Output
from ._sweeps import single_reader


def run(graph: Graph, options=None) -> int:
    uses = graph.consumers()
    rewrites = 0
    for node in graph.nodes():
        if node.op != "Concat" or _axis(node) is None:
            continue
        flattened = []
        for source in node.inputs:
            if _absorbable(source, _axis(node), uses):
                flattened.extend(source.node.inputs)
                rewrites += 1
            else:
                flattened.append(source)
        node.inputs = flattened
    return rewrites


def _axis(node: Node) -> int | None:
    rank = node.outputs[0].shape
    if rank is None:
        return None
    return node.attrs["axis"] % len(rank)


def _absorbable(source: Output, axis: int, uses: dict[int, list]) -> bool:
    inner = source.node
    return (inner.op == "Concat" and single_reader(inner, uses)
            and _axis(inner) == axis)
