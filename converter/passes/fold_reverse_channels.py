"""Fold an input's channel reversal into the weights of the convolution that first reads it.

Before: Parameter -> Gather(channels p) -> Subtract(mean) -> Multiply(s) -> Convolution(W)
After:  Parameter -> Subtract(mean permuted) -> Multiply(s) -> Convolution(W, input channels permuted)

as the Model Optimizer does with --reverse_input_channels: permuting a convolution's input
channels is the same as permuting its weights along their input-channel axis, so the result is
exact and the Gather is gone. Between the Gather and the Convolution there may be a chain of
ops that commute with a channel permutation, each the only reader of the one before:
    Convert and other unary element-wise ops;
    binary element-wise ops whose other operand is a constant that is a scalar or one value per
        channel (a per-channel constant is permuted likewise; any other shape stops the walk);
    Transpose with a constant order (the channels move to another axis).
The Convolution must read the chain on its data input with the channels on axis 1, and have
constant weights (a decompression Convert in front of them is followed). Anything else (a second
reader, a GroupConvolution, a non-constant operand, a reshape) leaves the Gather where it is,
which is correct, only slower. Skipped with --disable_fusing. A node named by
--finegrain_fusing among those the fold changes (the Gather, which preprocessing names
`INPUT/reverse_input_channels`, an op whose per-channel constant would be permuted, the
Convolution) leaves the Gather where it is.

With p the Gather's order (y[c] = x[p[c]]) and q its inverse, the chain computes on x directly
once every per-channel constant k becomes k[q] and the weights W become W[:, q].
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..graph import Graph, Node, Output
from ._fusing import fusing_guard
# Ops that commute with a Transpose are the element-wise ones: they commute with any
# permutation of one axis as well.
from .transpose_sinking import BINARY, UNARY, order_of

log = logging.getLogger(__name__)


@dataclass
class ChannelFold:
    """One Gather to remove and the constants to permute so that nothing else changes."""

    gather: Node
    first_reader: tuple[Node, int]
    inverse: np.ndarray
    constants: list[tuple[Node, int, int]] = field(default_factory=list)  # (node, input, axis)
    convolution: Node | None = None


def run(graph: Graph, options=None) -> int:
    """Plans every fold first (their chains never share a node), then applies them."""
    guard = fusing_guard(options)
    uses = graph.consumers()
    folds = [fold for node in graph.nodes() if (fold := plan_fold(node, uses)) is not None
             and guard.allows(*changed_nodes(fold))]
    for fold in folds:
        apply_fold(graph, fold)
        log.debug("folded %s into the weights of %s", fold.gather.name, fold.convolution.name)
    return len(folds)


def changed_nodes(fold: ChannelFold) -> list[Node]:
    """The nodes a fold removes or rewrites: what --finegrain_fusing is asked about."""
    return [fold.gather, *(node for node, _, _ in fold.constants), fold.convolution]


def channel_reversal(node: Node) -> tuple[list[int], int] | None:
    """(order, axis) of a Gather on a Parameter that permutes a whole constant channel axis."""
    if node.op != "Gather" or node.inputs[0].node.op != "Parameter" or node.attrs.get("batch_dims", 0):
        return None
    data, indices, axis = node.inputs[0], node.inputs[1].value, node.inputs[2].value
    if data.rank is None or indices is None or axis is None or indices.ndim != 1 or axis.size != 1:
        return None
    axis = int(np.ravel(axis)[0]) % data.rank
    order = [int(i) for i in indices]
    if sorted(order) != list(range(data.shape[axis])):
        return None
    return order, axis


def plan_fold(node: Node, uses: dict) -> ChannelFold | None:
    """Walks from a channel-reversing Gather to the Convolution it can fold into, or None."""
    reversal = channel_reversal(node)
    if reversal is None:
        return None
    order, axis = reversal
    readers = uses.get(id(node), [])
    if len(readers) != 1:
        return None
    fold = ChannelFold(node, readers[0], np.argsort(order))
    current = node
    while True:
        readers = uses.get(id(current), [])
        if len(readers) != 1 or len(current.outputs) != 1:
            return None
        reader, index = readers[0]
        if reader.op == "Convolution":
            if not _reads_channels(reader, index, axis, len(order)):
                return None
            fold.convolution = reader
            return fold
        axis = _step(fold, reader, index, axis, current.output())
        if axis is None:
            return None
        current = reader


def _step(fold: ChannelFold, node: Node, index: int, axis: int, source: Output) -> int | None:
    """Where the channels lie after `node` reads them on input `index`, or None when `node`
    does not commute with permuting them (per-channel constants are noted in `fold`)."""
    if node.op in UNARY and len(node.inputs) == 1:
        return axis
    if node.op == "Transpose" and index == 0:
        order = order_of(node.output())
        return None if order is None else order.index(axis)
    if node.op in BINARY and len(node.inputs) == 2 and node.outputs[0].shape == source.shape:
        other = node.inputs[1 - index]
        shape = _channel_constant_shape(other, source, axis)
        if shape is None:
            return None
        if shape[axis] != 1:  # one value per channel: permuted along its own axis
            fold.constants.append((node, 1 - index, axis - (len(shape) - other.value.ndim)))
        return axis
    return None


def _channel_constant_shape(operand: Output, source: Output, axis: int) -> tuple | None:
    """The shape of `operand` brought to the rank of `source` when it is a constant with one
    value for all channels or one per channel along `axis`; None for anything else."""
    value = operand.value
    if value is None or value.ndim > source.rank:
        return None
    shape = (1,) * (source.rank - value.ndim) + value.shape
    if any(size != 1 for i, size in enumerate(shape) if i != axis):
        return None
    return shape if shape[axis] in (1, source.shape[axis]) else None


def _reads_channels(convolution: Node, index: int, axis: int, channels: int) -> bool:
    """The convolution reads the chain as its data, with the permuted channels as its own."""
    weights = weight_constant(convolution)
    return (index == 0 and axis == 1 and weights is not None and weights.value.ndim >= 2
            and weights.value.shape[1] == channels)


def weight_constant(convolution: Node) -> Node | None:
    """The Const holding the convolution's weights, directly or behind a decompression Convert."""
    source = convolution.inputs[1].node
    if source.op == "Convert" and source.inputs[0].node.op == "Const":
        source = source.inputs[0].node
    return source if source.op == "Const" else None


def apply_fold(graph: Graph, fold: ChannelFold) -> None:
    for node, index, axis in fold.constants:
        constant = node.inputs[index].node
        graph.reconnect([(node, index)], _permuted(graph, constant, fold.inverse, axis))
    _permute_weights(graph, fold.convolution, fold.inverse)
    graph.reconnect([fold.first_reader], fold.gather.inputs[0])


def _permuted(graph: Graph, constant: Node, inverse: np.ndarray, axis: int) -> Output:
    """A new Const: `constant` permuted along `axis` (the old one may have other readers)."""
    return graph.const(np.take(constant.value, inverse, axis=axis), name=constant.name)


def _permute_weights(graph: Graph, convolution: Node, inverse: np.ndarray) -> None:
    weights = convolution.inputs[1].node
    if weights.op == "Const":
        graph.reconnect([(convolution, 1)], _permuted(graph, weights, inverse, 1))
        return
    decompression = graph.add("Convert", [_permuted(graph, weights.inputs[0].node, inverse, 1)],
                              weights.attrs, name=weights.name)
    decompression.rt_info = dict(weights.rt_info)
    graph.reconnect([(convolution, 1)], decompression.output())
