"""Fuse a channel Split feeding one Convolution per part, concatenated back, into one
GroupConvolution (how TF1 graphs and old exporters spell grouped convolutions).

Before: Split(x, axis 1, G) -> Convolution(x_g, W_g) [-> Add(b_g)] for each g -> Concat(axis 1)
After:  GroupConvolution(x, stack(W_g)) [-> Add(concat(b_g))]

The parts must be G equal slices of the channel axis (Split, or VariadicSplit with equal
lengths), read in order, each by one Convolution with constant weights of one shape and the same
attributes, each of whose results only the Concat reads (through a per-channel bias Add on
every branch or on none). Skipped with --disable_gfusing and with --disable_fusing. A node
named by --finegrain_fusing (the Split, a branch's Convolution or bias Add, the Concat) leaves
the whole pattern as it was.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from ._fusing import FusingGuard, fusing_guard
from ._sweeps import replace_each, single_reader
from .fuse_linear_into_conv import channel_vector


def run(graph: Graph, options=None) -> int:
    guard = fusing_guard(options)
    uses = graph.consumers()
    return replace_each(graph, lambda node: _fuse(graph, node, uses, guard)
                        if node.op == "Concat" and node.outputs[0].shape is not None else None)


def _branch(output: Output, uses: dict[int, list]) -> tuple[Node, np.ndarray | None] | None:
    """(the Convolution, its per-channel bias or None) a Concat input comes from."""
    node = output.node
    if not single_reader(node, uses):
        return None
    bias = None
    if node.op == "Add" and output.shape is not None:
        data, const = node.inputs
        if const.value is None:
            data, const = const, data
        bias = channel_vector(const, len(output.shape)) if const.value is not None else None
        if bias is None or data.shape != output.shape:
            return None
        node = data.node
        if not single_reader(node, uses):
            return None
        bias = np.broadcast_to(bias, (output.shape[1],))
    if node.op != "Convolution" or node.inputs[1].value is None:
        return None
    return node, bias


def _equal_channel_split(split: Node) -> int | None:
    """The number of parts when `split` cuts axis 1 into equal slices, else None."""
    data = split.inputs[0]
    if data.shape is None or len(data.shape) < 3 or split.inputs[1].value is None:
        return None
    axis = int(np.ravel(split.inputs[1].value)[0]) % len(data.shape)
    if axis != 1:
        return None
    parts = len(split.outputs)
    if split.op == "VariadicSplit":
        lengths = split.inputs[2].value
        if lengths is None or len({int(v) for v in np.ravel(lengths)}) != 1:
            return None
    return parts


def _fuse(graph: Graph, concat: Node, uses: dict[int, list], guard: FusingGuard) -> Output | None:
    rank = len(concat.outputs[0].shape)
    if concat.attrs["axis"] % rank != 1 or len(concat.inputs) < 2:
        return None
    branches = [_branch(source, uses) for source in concat.inputs]
    if any(b is None for b in branches):
        return None
    convs = [conv for conv, _ in branches]
    biases = [bias for _, bias in branches]
    split = convs[0].inputs[0].node
    if split.op not in ("Split", "VariadicSplit") or _equal_channel_split(split) != len(convs):
        return None
    if not _each_part_read_once(split, uses) or any(
            conv.inputs[0] != split.output(index) for index, conv in enumerate(convs)):
        return None
    weights = [conv.inputs[1].value for conv in convs]
    if (len({w.shape for w in weights}) != 1 or len({w.dtype for w in weights}) != 1
            or any(conv.attrs != convs[0].attrs for conv in convs)):
        return None
    if any(b is None for b in biases) and any(b is not None for b in biases):
        return None
    branch_ends = [source.node for source in concat.inputs]  # the bias Adds, or the convolutions
    if not guard.allows(split, *convs, *branch_ends, concat):
        return None
    stacked = graph.const(np.stack(weights), name=f"{concat.name}/group_weights")
    fused = graph.add("GroupConvolution", [split.inputs[0], stacked], convs[0].attrs,
                      name=concat.name).output()
    if biases[0] is None:
        return fused
    bias = np.concatenate(biases).astype(weights[0].dtype).reshape((1, -1) + (1,) * (rank - 2))
    return graph.op("Add", fused, graph.const(bias, name=f"{concat.name}/group_bias"),
                    name=f"{concat.name}/bias", auto_broadcast="numpy")


def _each_part_read_once(split: Node, uses: dict[int, list]) -> bool:
    """Whether every output of `split` has exactly one reader (the branch's Convolution)."""
    readers = [consumer.inputs[i].index for consumer, i in uses.get(id(split), [])]
    return sorted(readers) == list(range(len(split.outputs)))
