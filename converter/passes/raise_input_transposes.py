"""Move the layout Transpose below a model input's elementwise/Pad chain up to the input.

Before: x (NHWC) -> Multiply(c) -> Pad(b, e) -> Transpose[0,3,1,2] -> Convolution
After:  x (NHWC) -> Transpose[0,3,1,2] -> Multiply(c') -> Pad(b', e') -> Convolution

`transpose_sinking` moves Transposes down and cancels them in pairs, but the first one of an
NHWC model has nothing above it to cancel with: it stays right before the first convolution,
and whatever the model does to its input before that (Keras' Rescaling and Normalization, a
ZeroPadding2D) runs in NHWC in between. Moving it up to the input, as ovc's IR has it, puts the
Pad next to the convolution, where `fold_pad_into_window` (which runs after this pass) makes it
the convolution's pads; the elementwise ops cost the same in either layout.
The chain moved is a run of ops that commute with a Transpose (the unary and binary ops of
`transpose_sinking`, their constants transposed along; Pad with constant pads, its pads
permuted) from a Parameter down to the Transpose, each read by the next alone. Chains that do
not start at a Parameter are left to `transpose_sinking`.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from ._sweeps import single_reader
from .transpose_sinking import BINARY, UNARY, order_of


def run(graph: Graph, options=None) -> int:
    uses = graph.consumers()
    rewrites = 0
    sweep = graph.sweep()
    for node in sweep:
        order = order_of(node.output()) if node.op == "Transpose" else None
        if order is None:
            continue
        chain = _chain_from_input(node.inputs[0], uses)
        if chain:
            sweep.replace(node.output(), _rebuild(graph, node, order, chain))
            rewrites += 1
    return rewrites


def _chain_from_input(source: Output, uses: dict[int, list]) -> list[Node] | None:
    """The movable ops from a Parameter down to `source`, nearest the Parameter last; None
    when the run of movable ops does not start at a Parameter."""
    chain = []
    while source.node.op != "Parameter":
        node = source.node
        if not single_reader(node, uses) or _data_input(node) is None:
            return None
        chain.append(node)
        source = node.inputs[_data_input(node)]
    return chain


def _data_input(node: Node) -> int | None:
    """Which input of `node` carries the data when the op commutes with a Transpose, else None."""
    if len(node.outputs) != 1 or node.outputs[0].shape is None:
        return None
    if node.op in UNARY and len(node.inputs) == 1:
        return 0
    if node.op == "Pad" and all(i.value is not None for i in node.inputs[1:]):
        return 0
    if node.op in BINARY and len(node.inputs) == 2:
        variable = [i for i, operand in enumerate(node.inputs) if operand.value is None]
        rank = len(node.outputs[0].shape)
        if len(variable) == 1 and node.inputs[1 - variable[0]].value.ndim <= rank \
                and node.inputs[variable[0]].shape == node.outputs[0].shape:
            return variable[0]
    return None


def _rebuild(graph: Graph, transpose: Node, order: list[int], chain: list[Node]) -> Output:
    top = chain[-1].inputs[_data_input(chain[-1])]
    current = graph.op("Transpose", top, transpose.inputs[1], name=transpose.name)
    for node in reversed(chain):
        current = graph.add(node.op, _moved_inputs(graph, node, current, order), node.attrs,
                            name=node.name).output()
    return current


def _moved_inputs(graph: Graph, node: Node, data: Output, order: list[int]) -> list[Output]:
    """`node`'s inputs with the data replaced by `data` (already transposed by `order`) and its
    constants rearranged to match."""
    index = _data_input(node)
    inputs = list(node.inputs)
    inputs[index] = data
    if node.op == "Pad":
        for i in (1, 2):
            pads = node.inputs[i].value
            inputs[i] = graph.const(pads[order], name=f"{node.name}/pads")
    elif node.op in BINARY:
        constant = node.inputs[1 - index]
        value = constant.value
        aligned = value.reshape((1,) * (len(order) - value.ndim) + value.shape)
        inputs[1 - index] = graph.const(np.ascontiguousarray(np.transpose(aligned, order)),
                                        name=constant.node.name)
    return inputs
