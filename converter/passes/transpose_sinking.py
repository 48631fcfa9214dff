"""Transpose sinking: move layout Transposes down the graph until they cancel out.

Frontends of NHWC models wrap every NCHW-only op in Transposes:
    Conv -> Transpose[0,2,3,1] -> Add(bias[C]) -> ReLU -> Transpose[0,3,1,2] -> Conv
This pass pushes a Transpose below the ops it commutes with and merges it into the next one:
    Conv -> Add(bias[1,C,1,1]) -> ReLU -> Conv
Rules (T = Transpose with constant order p):
    T(T(x, p), q)           -> T(x, p∘q), dropped when the composition is the identity
    unary(T(x))             -> T(unary(x))
    binary(T(x), const c)   -> T(binary(x, c transposed by p⁻¹))     (either operand order)
    binary(T(x), T(y))      -> T(binary(x, y))                        (same p)
    Concat(T(x_i), axis a)  -> T(Concat(x_i, axis p[a]))              (all inputs T with same p)
    Reduce(T(x), axes A)    -> Reduce(x, p[A]) followed by what is left of T
    Pad(T(x), b, e)         -> T(Pad(x, b and e permuted by p⁻¹))     (constant pads)
A Transpose that reaches a Result or an op it does not commute with stays there.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from ._sweeps import replace_each

UNARY = {"ReLU", "Clamp", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Negative", "Floor",
         "Ceiling", "Elu", "Convert", "HSwish", "HSigmoid", "Swish", "Erf", "Gelu", "SoftPlus",
         "Mish", "Sign", "Sin", "Cos"}
BINARY = {"Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "Power",
          "SquaredDifference", "Equal", "Less", "Greater", "LessEqual", "GreaterEqual",
          "NotEqual", "LogicalAnd", "LogicalOr"}
REDUCE = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2"}


def run(graph: Graph, options=None) -> int:
    """One topological sweep: each node absorbs the Transposes feeding it and passes them on,
    so a Transpose travels down a whole chain of commuting ops in a single pass."""
    return replace_each(graph, lambda node: _sink_into(graph, node))


def order_of(output: Output) -> list[int] | None:
    """The constant order of a Transpose output, else None."""
    node = output.node
    if node.op != "Transpose" or node.inputs[1].value is None or node.inputs[0].rank is None:
        return None
    order = [int(v) for v in np.ravel(node.inputs[1].value)]
    return order or list(reversed(range(node.inputs[0].rank)))


def _sink_into(graph: Graph, node: Node) -> Output | None:
    """What replaces `node` once the Transposes feeding it are moved below it, or None."""
    if node.op == "Transpose":
        return _merge_transposes(graph, node)
    if not node.inputs or len(node.outputs) != 1:
        return None
    order = order_of(node.inputs[0])
    if node.op in UNARY and len(node.inputs) == 1 and order is not None:
        moved = graph.add(node.op, [node.inputs[0].node.inputs[0]], node.attrs, name=node.name).output()
        return _transpose(graph, moved, order, node.name)
    if node.op in BINARY:
        return _push_into_binary(graph, node)
    if node.op == "Concat":
        return _push_into_concat(graph, node)
    if node.op in REDUCE and order is not None:
        return _push_into_reduce(graph, order, node)
    if node.op == "Pad" and order is not None:
        return _push_into_pad(graph, order, node)
    return None


def _merge_transposes(graph: Graph, node: Node) -> Output | None:
    second = order_of(node.output())
    if second is None:
        return None
    source, first = node.inputs[0], order_of(node.inputs[0])
    if first is not None:
        second = [first[i] for i in second]
        source = source.node.inputs[0]
    if second == list(range(len(second))):
        return source
    return None if first is None else _transpose(graph, source, second, node.name)


def _push_into_binary(graph: Graph, node: Node) -> Output | None:
    orders = [order_of(operand) for operand in node.inputs]
    order = next((o for o in orders if o is not None), None)
    if order is None:
        return None
    rank = len(order)
    inverse = list(np.argsort(order))
    inputs = []
    for operand, operand_order in zip(node.inputs, orders):
        if operand_order == order:
            inputs.append(operand.node.inputs[0])
        elif operand.value is not None and operand.value.ndim <= rank:
            value = operand.value.reshape((1,) * (rank - operand.value.ndim) + operand.value.shape)
            inputs.append(graph.const(np.transpose(value, inverse), name=operand.node.name))
        else:
            return None
    moved = graph.add(node.op, inputs, node.attrs, name=node.name).output()
    return _transpose(graph, moved, order, node.name)


def _push_into_concat(graph: Graph, node: Node) -> Output | None:
    order = order_of(node.inputs[0])
    if order is None or any(order_of(operand) != order for operand in node.inputs):
        return None
    axis = order[node.attrs["axis"] % len(order)]
    moved = graph.op("Concat", *[o.node.inputs[0] for o in node.inputs], name=node.name, axis=axis)
    return _transpose(graph, moved, order, node.name)


def _push_into_reduce(graph: Graph, order: list[int], node: Node) -> Output | None:
    axes_value = node.inputs[1].value
    if axes_value is None:
        return None
    rank = len(order)
    axes = sorted({int(a) % rank for a in np.ravel(axes_value)})
    new_axes = graph.const(np.array(sorted(order[a] for a in axes), dtype=np.int64),
                           name=node.inputs[1].node.name)
    moved = graph.add(node.op, [node.inputs[0].node.inputs[0], new_axes], node.attrs, name=node.name).output()
    if node.attrs.get("keep_dims"):
        rest = order
    else:
        kept = [order[i] for i in range(rank) if i not in axes]
        rest = [sorted(kept).index(k) for k in kept]
    return _transpose(graph, moved, rest, node.name) if rest != sorted(rest) else moved


def _push_into_pad(graph: Graph, order: list[int], node: Node) -> Output | None:
    begin, end = node.inputs[1].value, node.inputs[2].value
    if begin is None or end is None:
        return None
    inputs = [node.inputs[0].node.inputs[0]]
    for pads in (begin, end):
        moved_pads = np.empty_like(pads)
        moved_pads[order] = pads  # pads[i] belongs to output axis i, which is input axis order[i]
        inputs.append(graph.const(moved_pads, name=f"{node.name}/pads"))
    moved = graph.add("Pad", inputs + node.inputs[3:], node.attrs, name=node.name).output()
    return _transpose(graph, moved, order, node.name)


def _transpose(graph: Graph, source: Output, order: list[int], name: str) -> Output:
    return graph.op("Transpose", source, graph.const(np.array(order, dtype=np.int64), name=f"{name}/order"),
                    name=f"{name}/transpose")
