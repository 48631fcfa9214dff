"""Constant folding: replace every op whose outputs can be known now by Const nodes.

Before: Const(w) -> Transpose(Const([3,2,0,1])) -> Convolution
After:  Const(w transposed) -> Convolution

An op folds when `OpSpec.fold` can compute it: all inputs constant and a numpy evaluation
exists, or (ShapeOf) the input's shape is fully static. A Gather, Slice or StridedSlice picking
only static dimensions out of a ShapeOf whose tensor has dynamic ones (a batch of -1) folds too:
`ShapeOf(x[-1,7,7,64])[1:]` is [7, 7, 64] whatever the batch. Folded constants keep the tensor names
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
        values = _static_dims_picked(node)
    if values is None:
        return None
    values = [np.asarray(v) for v in values]
    if sum(v.nbytes for v in values) > MAX_FOLDED_BYTES:
        return None
    # keep the element type the graph promised; numpy may have widened it
    return [v if info.element_type is None else v.astype(to_numpy(info.element_type), copy=False)
            for v, info in zip(values, node.outputs)]


SHAPE_PICKERS = ("Gather", "Slice", "StridedSlice")


def _static_dims_picked(node: Node) -> list[np.ndarray] | None:
    """The dims a Gather/Slice/StridedSlice picks from a partly dynamic ShapeOf, when every one
    picked is static: the picker runs on the shape with a marker in each dynamic dim, and the
    result folds when no marker is left in it."""
    if node.op not in SHAPE_PICKERS or not node.inputs or node.inputs[0].node.op != "ShapeOf":
        return None
    shape = node.inputs[0].node.inputs[0].shape
    if shape is None or any(s.node.op != "Const" for s in node.inputs[1:]):
        return None
    dtype = np.dtype(to_numpy(node.inputs[0].element_type or "i64"))
    marker = np.iinfo(dtype).min
    dims = np.array([marker if d == -1 else d for d in shape], dtype=dtype)
    values = spec(node.op).evaluate(node, [dims] + [s.node.value for s in node.inputs[1:]])
    if any(np.any(np.asarray(v) == marker) for v in values):
        return None
    return values
