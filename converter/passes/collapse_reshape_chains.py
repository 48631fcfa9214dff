"""Collapse chains of ops that only move data into one op (or none).

Before: x [1,8,1,1] -> Squeeze -> Unsqueeze -> Reshape [1,2,4]
After:  x [1,8,1,1] -> Reshape [1,2,4]

Before: x -> Transpose([0,2,3,1]) -> Transpose([0,3,1,2])
After:  x

Before: x [1,C,1,1] -> Transpose([0,2,3,1])      (only dims of size 1 move)
After:  x [1,C,1,1] -> Reshape [1,1,1,C]

- a Reshape, Squeeze or Unsqueeze reading another becomes one Reshape of the first one's data
  to the last one's shape (or nothing, when that is the data's own shape);
- a Transpose reading a Transpose becomes one Transpose by the composed order (or nothing, when
  the order is the identity);
- a Transpose that keeps the order of every dimension larger than 1 is a Reshape, which then
  joins the Reshape chains around it.
One topological sweep collapses whole chains: each link reads the already collapsed one before
it. A rewrite needs the output shape known with at most one dynamic dimension (written as -1 in
the new Reshape); the links left without readers vanish with the sweep.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from .remove_noop_nodes import RESHAPE_LIKE, same_shape, would_merge_model_tensors


def run(graph: Graph, options=None) -> int:
    sweep = graph.sweep()
    rewrites = 0
    for node in sweep:
        if node.op == "Transpose":
            replacement = _collapsed_transpose(graph, node)
        elif node.op in RESHAPE_LIKE:
            replacement = _collapsed_reshape(graph, node)
        else:
            continue
        if replacement is None or would_merge_model_tensors(graph, sweep, node.output(), replacement):
            continue
        sweep.replace(node.output(), replacement)
        rewrites += 1
    return rewrites


def _reshape_pattern(output: Output) -> list[int] | None:
    """A Reshape target giving `output`'s shape, or None when the shape is not known enough."""
    shape = output.shape
    if shape is None or list(shape).count(-1) > 1 or 0 in shape:
        return None
    return list(shape)


def _reshaped(graph: Graph, data: Output, node: Node) -> Output | None:
    """`data` reshaped to `node`'s output shape, `data` itself if it has that shape already."""
    if same_shape(data.shape, node.outputs[0].shape):
        return data
    pattern = _reshape_pattern(node.output())
    if pattern is None:
        return None
    target = graph.const(np.array(pattern, np.int64), name=f"{node.name}/shape")
    return graph.op("Reshape", data, target, name=node.name, special_zero=False)


def _collapsed_reshape(graph: Graph, node: Node) -> Output | None:
    source = node.inputs[0]
    if source.node.op not in RESHAPE_LIKE:
        return None
    return _reshaped(graph, source.node.inputs[0], node)


def _order(node: Node) -> list[int] | None:
    order, rank = node.inputs[1].value, node.inputs[0].rank
    if order is None or not rank:
        return None
    if order.size == 0:
        return list(reversed(range(rank)))
    return [int(v) % rank for v in np.ravel(order)]


def _collapsed_transpose(graph: Graph, node: Node) -> Output | None:
    order = _order(node)
    if order is None:
        return None
    source, composed = node.inputs[0], False
    if source.node.op == "Transpose" and (inner := _order(source.node)) is not None:
        order = [inner[i] for i in order]  # out[i] = inner_out[order[i]] = x[inner[order[i]]]
        source, composed = source.node.inputs[0], True
    if order == list(range(len(order))):
        return source
    if _moves_only_ones(source.shape, order):
        start = source.node.inputs[0] if source.node.op in RESHAPE_LIKE else source
        reshaped = _reshaped(graph, start, node)
        if reshaped is not None:
            return reshaped
    if not composed:
        return None
    return graph.op("Transpose", source, graph.const(np.array(order, np.int64), name=f"{node.name}/order"),
                    name=node.name)


def _moves_only_ones(shape, order: list[int]) -> bool:
    """Transposing by `order` moves only dims of size 1 (a dynamic dim counts as larger): the
    others keep their order, so the data keeps its layout in memory and a Reshape does it."""
    if shape is None:
        return False
    kept = [axis for axis in order if shape[axis] != 1]
    return kept == sorted(kept)
