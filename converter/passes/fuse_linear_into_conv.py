"""Fold per-channel Multiply and Add chains into the Convolution before them.

Before: Convolution(x, W) -> Add(b) -> Multiply(s) -> Add(t)       (e.g. a decomposed BatchNorm)
After:  Convolution(x, W * s[o]) -> Add(b * s + t)

Rules, applied until none matches (c, d constants broadcast along the channel axis only):
    Multiply(Add(y, c), d)         -> Add(Multiply(y, d), c * d)
    Add(Add(y, c), d)              -> Add(y, c + d)
    Multiply(Multiply(y, c), d)    -> Multiply(y, c * d)
    Multiply(Convolution(x, W), d) -> Convolution(x, W * d per output channel)
    (GroupConvolution likewise, with W of shape [G, O/G, I/G, ...])
The intermediate node must have no other consumer, or fusing would change what that reads.
Skipped entirely with --disable_fusing; a node named by --finegrain_fusing is left unfused.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from ._fusing import FusingGuard, fusing_guard
from ._sweeps import single_reader, until_stable
from ._weights import scaled_weights

CONVOLUTIONS = ("Convolution", "GroupConvolution")


def run(graph: Graph, options=None) -> int:
    guard = fusing_guard(options)
    return until_stable(graph, lambda g: _fuse_sweep(g, guard))


def channel_vector(output: Output, rank: int) -> np.ndarray | None:
    """The constant as one value per channel (axis 1), or None if it varies along another axis."""
    value = output.value
    if value is None or value.ndim > rank:
        return None
    full = value.reshape((1,) * (rank - value.ndim) + value.shape)
    if any(d != 1 for i, d in enumerate(full.shape) if i != 1):
        return None
    return full.reshape(-1)


def _operands(node: Node) -> tuple[Output, Output] | None:
    """(variable input, constant input) of a binary op with exactly one constant operand."""
    a, b = node.inputs
    if b.value is not None and a.value is None:
        return a, b
    if a.value is not None and b.value is None:
        return b, a
    return None


def _fuse_sweep(graph: Graph, guard: FusingGuard) -> int:
    uses = graph.consumers()
    sweep = graph.sweep()
    rewrites = 0
    for node in sweep:
        if node.op not in ("Multiply", "Add") or node.outputs[0].shape is None:
            continue
        operands = _operands(node)
        if operands is None:
            continue
        inner_out, outer_const = operands
        inner = inner_out.node
        if not single_reader(inner, uses) or inner_out.shape != node.outputs[0].shape:
            continue
        rank = len(node.outputs[0].shape)
        if rank < 2 or channel_vector(outer_const, rank) is None:
            continue
        if not guard.allows(node, inner, _chain_base(inner)):
            continue
        fused = _rewrite(graph, node, inner, outer_const, rank, uses)
        if fused is not None:
            sweep.replace(node.output(), fused)
            rewrites += 1
    return rewrites


def _chain_base(node: Node) -> Node:
    """The node under a chain of Add/Multiply by constants ending at `node`: a Convolution
    named by --finegrain_fusing keeps its whole chain as it was (not even reordered)."""
    while node.op in ("Multiply", "Add") and _operands(node) is not None:
        node = _operands(node)[0].node
    return node


def _rewrite(graph: Graph, node: Node, inner: Node, outer: Output, rank: int,
             uses: dict[int, list]) -> Output | None:
    if node.op == "Multiply" and inner.op in CONVOLUTIONS:
        return _scale_weights(graph, inner, channel_vector(outer, rank), uses)
    if inner.op not in ("Add", "Multiply"):
        return None
    inner_operands = _operands(inner)
    if inner_operands is None or channel_vector(inner_operands[1], rank) is None:
        return None
    y, c = inner_operands
    combine = {("Multiply", "Add"): np.multiply, ("Add", "Add"): np.add,
               ("Multiply", "Multiply"): np.multiply}.get((node.op, inner.op))
    if combine is None:
        return None
    shape = [1] * rank
    shape[1] = -1
    merged = combine(channel_vector(c, rank), channel_vector(outer, rank)).reshape(shape)
    merged_const = graph.const(merged.astype(c.value.dtype), name=f"{inner.name}/fused")
    if (node.op, inner.op) == ("Multiply", "Add"):
        scaled = graph.op("Multiply", y, outer, name=node.name, auto_broadcast="numpy")
        result = graph.op("Add", scaled, merged_const, name=inner.name, auto_broadcast="numpy")
    else:
        result = graph.op(inner.op, y, merged_const, name=inner.name, auto_broadcast="numpy")
    return result


def _scale_weights(graph: Graph, conv: Node, scale: np.ndarray,
                   uses: dict[int, list]) -> Output | None:
    weights_out = conv.inputs[1]
    weights = weights_out.value
    if weights is None:
        return None
    if conv.op == "Convolution":
        out_channels = weights.shape[0]
        factor = np.broadcast_to(scale, (out_channels,)).reshape((-1,) + (1,) * (weights.ndim - 1))
    else:
        groups, per_group = weights.shape[:2]
        factor = np.broadcast_to(scale, (groups * per_group,)).reshape(
            (groups, per_group) + (1,) * (weights.ndim - 2))
    return graph.add(conv.op, [conv.inputs[0], scaled_weights(graph, weights_out, factor, uses)],
                     conv.attrs, name=conv.name).output()
