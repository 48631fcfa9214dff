"""Fold scale-shift chains after a MatMul into its constant weights and one bias Add, and a
per-input-channel Multiply before a Convolution or MatMul into its weights.

Before: MatMul(x, W) -> Add(b) -> Multiply(s) -> Subtract(t)   (e.g. Dense + a decomposed BatchNorm)
After:  MatMul(x, W * s[col]) -> Add(b * s - t)                 (ovc's biased FullyConnected form)

Before: Multiply(x, s[c]) -> Convolution(., W)       Multiply(x, s[k]) -> MatMul(., W)
After:  Convolution(x, W * s[in channel])            MatMul(x, W * s[row])

Rules after a MatMul, applied until none matches (c, d constants that vary along the last
axis only; Subtract(y, c) reads as Add(y, -c), Divide(y, c) as Multiply(y, 1 / c)):
    Multiply(Add(y, c), d)       -> Add(Multiply(y, d), c * d)
    Add(Add(y, c), d)            -> Add(y, c + d)
    Multiply(Multiply(y, c), d)  -> Multiply(y, c * d)
    Multiply(MatMul(x, W), d)    -> MatMul(x, W * d per output column)
Before a Convolution the scale must be constant along every axis but the channel axis (1);
zero padding commutes with it, so the fold is exact. Every node folded away must have no other
consumer. Weights only the fused op reads are scaled in place (as fuse_linear_into_conv does).
Skipped entirely with --disable_fusing. A node named by --finegrain_fusing leaves its whole
pattern as it was: for a chain after a MatMul, any node of the chain or the MatMul itself (so
that the chain is not even reordered); for a scale before a Convolution or MatMul, the Multiply
or the op. The guard is asked before any weight is scaled.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from ._fusing import FusingGuard, fusing_guard
from ._sweeps import replace_each, single_reader, until_stable
from ._weights import scaled_weights

LINEAR = ("Add", "Subtract", "Multiply", "Divide")


def run(graph: Graph, options=None) -> int:
    guard = fusing_guard(options)
    return until_stable(graph, lambda g: _fuse_sweep(g, guard))


def axis_vector(output: Output, rank: int, axis: int) -> np.ndarray | None:
    """The constant as one value per index of `axis` (or one value), or None when it varies
    along another axis or has more dimensions than `rank`."""
    value = output.value
    if value is None or value.ndim > rank or value.dtype.kind != "f":
        return None
    full = value.reshape((1,) * (rank - value.ndim) + value.shape)
    axis %= rank
    if any(d != 1 for i, d in enumerate(full.shape) if i != axis):
        return None
    return full.reshape(-1)


def as_affine(node: Node) -> tuple[str, Output, Output, bool] | None:
    """(Add or Multiply, variable input, constant input, negate/invert?) for a linear op by a
    constant: Subtract(y, c) is Add(y, -c) and Divide(y, c) is Multiply(y, 1 / c)."""
    if node.op not in LINEAR:
        return None
    a, b = node.inputs
    if b.value is not None and a.value is None:
        kind = "Add" if node.op in ("Add", "Subtract") else "Multiply"
        return kind, a, b, node.op in ("Subtract", "Divide")
    if a.value is not None and b.value is None and node.op in ("Add", "Multiply"):
        return node.op, b, a, False
    return None


def _vector(affine: tuple[str, Output, Output, bool], rank: int) -> np.ndarray | None:
    kind, _, const, inverse = affine
    vector = axis_vector(const, rank, -1)
    if vector is None or not inverse:
        return vector
    if kind == "Add":
        return -vector
    return None if np.any(vector == 0) else 1 / vector


def _fuse_sweep(graph: Graph, guard: FusingGuard) -> int:
    uses = graph.consumers()

    def fold(node: Node) -> Output | None:
        fold_one = _fold_input_scale if node.op in ("Convolution", "MatMul") else _fold_after_matmul
        return fold_one(graph, node, uses, guard)
    return replace_each(graph, fold)


def _fold_after_matmul(graph: Graph, node: Node, uses: dict[int, list],
                       guard: FusingGuard) -> Output | None:
    affine = as_affine(node)
    if affine is None:
        return None
    shape = node.outputs[0].shape
    if shape is None or len(shape) < 2:
        return None
    kind, inner_out, _, _ = affine
    inner = inner_out.node
    if not single_reader(inner, uses) or inner_out.shape != shape:
        return None
    outer = _vector(affine, len(shape))
    if outer is None:
        return None
    if kind == "Multiply" and inner.op == "MatMul":
        if not guard.allows(node, inner):
            return None
        return _scale_columns(graph, inner, outer, uses)
    inner_affine = as_affine(inner)
    chain = _chain_to_matmul(inner_affine[1], uses) if inner_affine is not None else None
    if chain is None:
        return None
    inner_vector = _vector(inner_affine, len(shape))
    if inner_vector is None or not guard.allows(node, inner, *chain):
        return None
    y, dtype = inner_affine[1], inner_affine[2].value.dtype
    pair = (kind, inner_affine[0])
    if pair == ("Multiply", "Add"):
        scaled = graph.op("Multiply", y, _row(graph, outer, dtype, f"{node.name}/scale"),
                          name=node.name, auto_broadcast="numpy")
        return graph.op("Add", scaled, _row(graph, inner_vector * outer, dtype,
                                            f"{inner.name}/fused"),
                        name=inner.name, auto_broadcast="numpy")
    combine = {("Add", "Add"): np.add, ("Multiply", "Multiply"): np.multiply}.get(pair)
    if combine is None:
        return None
    return graph.op(kind, y, _row(graph, combine(inner_vector, outer), dtype, f"{inner.name}/fused"),
                    name=inner.name, auto_broadcast="numpy")


def _chain_to_matmul(output: Output, uses: dict[int, list]) -> list[Node] | None:
    """The nodes from `output` back to a MatMul with constant weights (Add/Multiply by constants
    on the way, the MatMul last), or None when `output` leads to no such MatMul: only such
    chains are folded (a scale-shift elsewhere is not this pass's)."""
    chain = []
    while True:
        node = output.node
        chain.append(node)
        if node.op == "MatMul":
            return chain if _constant_weights(node) is not None else None
        affine = as_affine(node)
        if affine is None or not single_reader(node, uses):
            return None
        output = affine[1]


def _row(graph: Graph, vector: np.ndarray, dtype, name: str) -> Output:
    return graph.const(np.asarray(vector, dtype=dtype).reshape(1, -1) if vector.size > 1
                       else np.asarray(vector.reshape(()), dtype=dtype), name=name)


def _constant_weights(matmul: Node) -> Output | None:
    """The MatMul's second input when it is a constant matrix and the first is not."""
    data, weights = matmul.inputs
    if weights.value is None or data.value is not None or weights.value.ndim < 2:
        return None
    return weights


def _scale_columns(graph: Graph, matmul: Node, scale: np.ndarray,
                   uses: dict[int, list]) -> Output | None:
    weights = _constant_weights(matmul)
    if weights is None or matmul.outputs[0].shape is None or len(matmul.outputs[0].shape) < 2:
        return None
    columns = weights.value.shape[-2] if matmul.attrs.get("transpose_b") else weights.value.shape[-1]
    factor = np.broadcast_to(scale, (columns,))
    factor = factor.reshape(-1, 1) if matmul.attrs.get("transpose_b") else factor.reshape(1, -1)
    return graph.add("MatMul", [matmul.inputs[0], scaled_weights(graph, weights, factor, uses)],
                     matmul.attrs, name=matmul.name).output()


def _fold_input_scale(graph: Graph, node: Node, uses: dict[int, list],
                      guard: FusingGuard) -> Output | None:
    """Convolution/MatMul whose data input is Multiply(x, s) with s per input channel."""
    data = node.inputs[0]
    multiply = data.node
    affine = as_affine(multiply)
    if affine is None or affine[0] != "Multiply" or not single_reader(multiply, uses):
        return None
    x = affine[1]
    if x.shape is None or x.shape != data.shape or len(x.shape) < 2:
        return None
    if node.op == "Convolution":
        weights = node.inputs[1]
        if weights.value is None:
            return None
        scale = _channel_scale(affine, len(x.shape), 1)
        if scale is None:
            return None
        factor = np.broadcast_to(scale, (weights.value.shape[1],)).reshape(
            (1, -1) + (1,) * (weights.value.ndim - 2))
    else:
        weights = _constant_weights(node)
        if weights is None or node.attrs.get("transpose_a"):
            return None
        scale = _channel_scale(affine, len(x.shape), -1)
        if scale is None:
            return None
        rows = weights.value.shape[-1] if node.attrs.get("transpose_b") else weights.value.shape[-2]
        factor = np.broadcast_to(scale, (rows,))
        factor = factor.reshape(1, -1) if node.attrs.get("transpose_b") else factor.reshape(-1, 1)
    if not guard.allows(multiply, node):
        return None
    return graph.add(node.op, [x, scaled_weights(graph, weights, factor, uses)], node.attrs,
                     name=node.name).output()


def _channel_scale(affine, rank: int, axis: int) -> np.ndarray | None:
    kind, _, const, inverse = affine
    vector = axis_vector(const, rank, axis)
    if vector is None:
        return None
    if inverse:
        return None if np.any(vector == 0) else 1 / vector
    return vector
