"""Merge chains of Multiply and Add by constants into one Multiply and one Add.

Before: x -> Multiply(a) -> Add(b) -> Multiply(c) -> Subtract(d) -> Add(e)
After:  x -> Multiply(a * c) -> Add(b * c - d + e)

Rules, applied until none matches (c, d constants; `y` anything else):
    Multiply(Multiply(y, c), d) -> Multiply(y, c * d)
    Add(Add(y, c), d)           -> Add(y, c + d)
    Multiply(Add(y, c), d)      -> Add(Multiply(y, d), c * d)    (the scale-shift order)
A Subtract of a constant counts as an Add of its negation. A rule applies only when the inner
node has no other reader (or the chain would be computed twice), the constants have the data's
element type, the merged constant is no larger than the larger of the two, and the result has
the shape the chain had. A merged constant of exactly 1 (Multiply) or 0 (Add) leaves no op
at all. Wherever such chains remain: fuse_linear_into_conv and
fuse_linear_into_matmul, which run before, have already taken those after a Convolution or
MatMul. Skipped with --disable_fusing. A node named by --finegrain_fusing is merged with
neither neighbour, so the chain stays split there (as the Model Optimizer's sequence fusing
stopped at a node it may not fuse).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..graph import Graph, Node, Output
from ._sweeps import single_reader
from ._fusing import FusingGuard, fusing_guard
from .remove_noop_nodes import broadcasts_into, would_merge_model_tensors


class Linear(NamedTuple):
    """A node read as `variable * constant` (kind "Multiply") or `variable + constant` ("Add")."""

    kind: str
    variable: Output
    constant: np.ndarray


def run(graph: Graph, options=None) -> int:
    """Sweeps until nothing merges: a distributed Multiply may meet another in the next sweep."""
    guard = fusing_guard(options)
    total = 0
    while rewrites := _merge_sweep(graph, guard):
        total += rewrites
    return total


def _merge_sweep(graph: Graph, guard: FusingGuard) -> int:
    readers = graph.consumers()
    sweep = graph.sweep()
    rewrites = 0
    for node in sweep:
        outer = as_linear(node)
        if outer is None:
            continue
        inner_node = outer.variable.node
        inner = as_linear(inner_node)
        if inner is None or not single_reader(inner_node, readers):
            continue
        if not guard.allows(inner_node, node):
            continue
        merged = _merged(graph, node, inner, outer)
        if merged is None or merged.shape != node.outputs[0].shape \
                or would_merge_model_tensors(graph, sweep, node.output(), merged):
            continue
        sweep.replace(node.output(), merged)
        rewrites += 1
    return rewrites


def as_linear(node: Node) -> Linear | None:
    if node.op not in ("Multiply", "Add", "Subtract") or len(node.inputs) != 2:
        return None
    a, b = node.inputs
    element_type = node.outputs[0].element_type
    if node.op == "Subtract":
        if b.value is None or a.value is not None or b.element_type != element_type:
            return None
        return Linear("Add", a, np.negative(b.value))
    for variable, constant in ((a, b), (b, a)):
        if constant.value is not None and variable.value is None \
                and constant.element_type == element_type == variable.element_type:
            return Linear(node.op, variable, constant.value)
    return None


def _merged(graph: Graph, node: Node, inner: Linear, outer: Linear) -> Output | None:
    y = inner.variable
    if (inner.kind, outer.kind) == ("Multiply", "Multiply"):
        merged = _combined(np.multiply, inner.constant, outer.constant)
        return None if merged is None else _apply(graph, "Multiply", y, merged, node.name)
    if (inner.kind, outer.kind) == ("Add", "Add"):
        merged = _combined(np.add, inner.constant, outer.constant)
        return None if merged is None else _apply(graph, "Add", y, merged, node.name)
    if (inner.kind, outer.kind) == ("Add", "Multiply"):
        shift = _combined(np.multiply, inner.constant, outer.constant)
        if shift is None:
            return None
        scaled = _apply(graph, "Multiply", y, outer.constant, f"{node.name}/scale")
        return _apply(graph, "Add", scaled, shift, f"{node.name}/shift")
    return None


def _combined(fn, c: np.ndarray, d: np.ndarray) -> np.ndarray | None:
    """fn(c, d) in their element type, or None when it is larger than the larger of the two."""
    if np.broadcast_shapes(c.shape, d.shape) not in (c.shape, d.shape):
        return None
    return np.asarray(fn(c, d)).astype(c.dtype, copy=False)


def _apply(graph: Graph, op: str, y: Output, constant: np.ndarray, name: str) -> Output:
    """`y op constant`, or `y` itself when the merged constant turned out neutral (a scale and
    its inverse multiply to 1, a shift and its opposite add to 0)."""
    if (op == "Multiply" and np.all(constant == 1)) or (op == "Add" and not np.any(constant)):
        if y.shape is not None and broadcasts_into(constant.shape, y.shape):
            return y
    return graph.op(op, y, graph.const(constant, name=f"{name}/constant"), name=name,
                    auto_broadcast="numpy")
