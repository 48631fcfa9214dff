"""Constant folding: replace every op whose outputs can be known now by Const nodes.

Before: Const(w) -> Transpose(Const([3,2,0,1])) -> Convolution
After:  Const(w transposed) -> Convolution

An op folds when `OpSpec.fold` can compute it: all inputs constant and a numpy evaluation
exists, or (ShapeOf) the input's shape is fully static. Folded constants keep the tensor names
of the outputs they replace, so a folded model output stays readable by name. A numpy
evaluation failing (FloatingPointError, ValueError, MemoryError...) on inputs whose shapes were
already checked is an InternalError naming the node.
"""
from __future__ import annotations

import math

import numpy as np

from ..element_types import to_numpy
from ..errors import NodeRef, attributed
from ..graph import Graph, Node
from ..ops import spec

# A folded result larger than this stays an op: materialising e.g. a huge Broadcast of a
# constant would bloat the .bin for no speed gain.
MAX_FOLDED_BYTES = 64 * 1024 * 1024


def _declared_bytes(node: Node) -> int:
    """The size of the outputs by their inferred shapes (0 where a shape is unknown)."""
    total = 0
    for info in node.outputs:
        if info.shape is not None and all(d >= 0 for d in info.shape):
            itemsize = 8 if info.element_type is None else np.dtype(to_numpy(info.element_type)).itemsize
            total += math.prod(info.shape) * itemsize
    return total


def run(graph: Graph, options=None) -> int:
    folded = 0
    sweep = graph.sweep()
    for node in sweep:
        if node.op in ("Parameter", "Const", "Result"):
            continue
        with attributed(node=NodeRef(node.op, node.name), doing="folding it"):
            values = _fold(node)
        if values is None:
            continue
        for index, value in enumerate(values):
            replacement = graph.const(value, name=node.name if len(values) == 1 else f"{node.name}.{index}")
            sweep.replace(node.output(index), replacement)
        folded += 1
    return folded


def _fold(node: Node) -> list[np.ndarray] | None:
    if _declared_bytes(node) > MAX_FOLDED_BYTES:
        return None  # never allocate it: a model may declare a 10^12-element result
    values = spec(node.op).fold(node)
    if values is None:
        return None
    values = [np.asarray(v) for v in values]
    if sum(v.nbytes for v in values) > MAX_FOLDED_BYTES:
        return None
    # keep the element type the graph promised; numpy may have widened it
    return [v if info.element_type is None else v.astype(to_numpy(info.element_type), copy=False)
            for v, info in zip(values, node.outputs)]
