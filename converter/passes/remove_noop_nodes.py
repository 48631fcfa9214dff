"""Drop the nodes that compute nothing: their consumers read the node's input instead.

Before: x -> Reshape(x's own shape) -> Transpose([0, 1, 2, 3]) -> Multiply(1.0) -> Conv
After:  x -> Conv

A node passes its input through unchanged when it is:
- a Reshape whose output has its input's shape, a Pad of zeros everywhere, a Broadcast, Tile
  or Slice (forward) whose output has its input's shape, all of it static (a dynamic length
  may change: [-1] sliced is [-1] too);
- a Transpose by the identity order; a Convert to the type it already has;
- a Multiply by exactly 1, a Divide by exactly 1, an Add or Subtract of exactly 0 (constants
  every element of which is that value, broadcasting along no axis of the data);
- a Concat of one input; a Split or VariadicSplit into one part;
- a Squeeze or Unsqueeze (or Reshape) undoing the Squeeze, Unsqueeze or Reshape before it.
Identity, Dropout, StopGradient and the like never reach the graph: the frontends map them to
their input. For a Reshape, shapes count as equal when they are the same tuple with at most one
dynamic dimension (an element count kept with two unknown dimensions could still move data).

A node whose output is a model output is kept when bypassing it would make that output the
model's input tensor or another model output's tensor: the IR keeps one tensor per name.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output, Shape, Sweep

RESHAPE_LIKE = ("Reshape", "Squeeze", "Unsqueeze")
# op -> the constant operand value that leaves the other operand as it is (and whether the
# constant may stand first: x * 1 == 1 * x, but 0 - x is not x)
NEUTRAL_OPERANDS = {"Multiply": (1, True), "Add": (0, True), "Divide": (1, False),
                    "Subtract": (0, False)}


def run(graph: Graph, options=None) -> int:
    sweep = graph.sweep()
    removed = 0
    for node in sweep:
        bypass = passthrough(node)
        if not bypass:
            continue
        if any(would_merge_model_tensors(graph, sweep, node.output(i), source)
               for i, source in bypass.items()):
            continue
        for index, source in bypass.items():
            sweep.replace(node.output(index), source)
        removed += 1
    return removed


def same_shape(a: Shape, b: Shape) -> bool:
    """Two shapes that are surely the same: equal tuples with at most one dynamic dimension."""
    return a is not None and b is not None and tuple(a) == tuple(b) and list(a).count(-1) <= 1


def same_static_shape(a: Shape, b: Shape) -> bool:
    """Two equal shapes with no dynamic dimension. Ops that may change the element count
    (Broadcast, Tile, Slice) need this: [-1] sliced to [-1] may have lost elements."""
    return a is not None and b is not None and tuple(a) == tuple(b) and -1 not in a


def passthrough(node: Node) -> dict[int, Output] | None:
    """{output index: the input it equals} when `node` computes nothing, else None."""
    if not node.inputs or node.op in ("Parameter", "Const", "Result"):
        return None
    data = node.inputs[0]
    op = node.op
    if op == "Reshape" and same_shape(data.shape, node.outputs[0].shape):
        return {0: data}
    if op == "Pad" and _pads_are_zero(node):
        return {0: data}
    if op in ("Broadcast", "Tile", "Slice") and same_static_shape(data.shape, node.outputs[0].shape):
        if op != "Slice" or _steps_forward(node):
            return {0: data}
    if op == "Transpose" and _is_identity_order(node):
        return {0: data}
    if op == "Convert" and node.attrs.get("destination_type") == data.element_type:
        return {0: data}
    if op in NEUTRAL_OPERANDS:
        variable = _neutral_binary_operand(node)
        return None if variable is None else {0: variable}
    if op == "Concat" and len(node.inputs) == 1:
        return {0: data}
    if op in ("Split", "VariadicSplit") and len(node.outputs) == 1:
        return {0: data}
    if op in RESHAPE_LIKE and data.node.op in RESHAPE_LIKE:
        original = data.node.inputs[0]
        if same_shape(original.shape, node.outputs[0].shape):
            return {0: original}
    return None


def _pads_are_zero(node: Node) -> bool:
    begin, end = (node.inputs[1].value, node.inputs[2].value)
    return begin is not None and end is not None and not np.any(begin) and not np.any(end)


def _steps_forward(node: Node) -> bool:
    """A Slice stepping forward that keeps every length keeps every element in place (a
    negative step keeps the length too, but reverses)."""
    steps = node.inputs[3].value
    return steps is not None and bool(np.all(steps > 0))


def _is_identity_order(node: Node) -> bool:
    order, rank = node.inputs[1].value, node.inputs[0].rank
    if order is None or rank is None:
        return False
    if order.size == 0:  # an empty order reverses the axes: the identity for rank 0 and 1
        return rank <= 1
    return [int(v) for v in np.ravel(order)] == list(range(rank))


def _neutral_binary_operand(node: Node) -> Output | None:
    """The variable operand of `x * 1`, `x + 0`, `x / 1`, `x - 0` (and `1 * x`, `0 + x`) when the
    constant broadcasts the variable to no larger shape and keeps its element type."""
    neutral, commutes = NEUTRAL_OPERANDS[node.op]
    a, b = node.inputs
    candidates = [(a, b)] + ([(b, a)] if commutes else [])
    for variable, constant in candidates:
        value = constant.value
        if value is None or variable.shape is None or value.size == 0:
            continue
        if variable.element_type != node.outputs[0].element_type:
            continue
        if not broadcasts_into(value.shape, variable.shape):
            continue
        if np.all(value == neutral):  # (-0.0 + 0.0 is +0.0: equal, as IEEE compares them)
            return variable
    return None


def broadcasts_into(small: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """Broadcasting `small` against `shape` gives `shape` whatever its dynamic dims hold."""
    if len(small) > len(shape):
        return False
    return all(s == 1 or (s == d and d != -1) for s, d in zip(reversed(small), reversed(shape)))


def would_merge_model_tensors(graph: Graph, sweep: Sweep, output: Output, source: Output) -> bool:
    """Bypassing `output` for `source` would give a model output the tensor of a model input
    or of another model output."""
    read = {sweep.replacements.get(r.inputs[0], r.inputs[0]) for r in graph.results}
    if output not in read:
        return False
    return source.node.op == "Parameter" or source in read
