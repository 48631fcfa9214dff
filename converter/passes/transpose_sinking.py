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

UNARY = {"ReLU", "Clamp", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Negative", "Floor",
         "Ceiling", "Elu", "Convert", "HSwish", "HSigmoid", "Swish", "Erf", "Gelu", "SoftPlus",
         "Mish", "Sign", "Sin", "Cos"}
BINARY = {"Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "Power",
          "SquaredDifference", "Equal", "Less", "Greater", "LessEqual", "GreaterEqual",
          "NotEqual", "LogicalAnd", "LogicalOr"}
REDUCE = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2"}


def run(graph: Graph, options=None) -> int:
    rewrites = 0
    while _sink_one(graph):
        rewrites += 1
    return rewrites


def order_of(output: Output) -> list[int] | None:
    """The constant order of a Transpose output, else None."""
    node = output.node
    if node.op != "Transpose" or node.inputs[1].value is None or node.inputs[0].rank is None:
        return None
    order = [int(v) for v in np.ravel(node.inputs[1].value)]
    return order or list(reversed(range(node.inputs[0].rank)))


def _sink_one(graph: Graph) -> bool:
    """Apply the first rule that matches anywhere; True when the graph changed."""
    uses = graph.consumers()
    for node in graph.nodes():
        order = order_of(node.output()) if node.op == "Transpose" else None
        if order is None:
            continue
        if order == list(range(len(order))):
            graph.replace_uses(node.output(), node.inputs[0])
            return True
        for consumer, _ in uses.get(id(node), []):
            if _push_into(graph, node, order, consumer):
                return True
    return False


def _push_into(graph: Graph, transpose: Node, order: list[int], consumer: Node) -> bool:
    source = transpose.inputs[0]
    if consumer.op == "Transpose":
        second = order_of(consumer.output())
        if second is None:
            return False
        merged = [order[i] for i in second]
        _replace(graph, consumer, _transpose(graph, source, merged, consumer.name))
        return True
    if consumer.op in UNARY and len(consumer.inputs) == 1:
        moved = graph.add(consumer.op, [source], consumer.attrs, name=consumer.name).output()
        _replace(graph, consumer, _transpose(graph, moved, order, consumer.name))
        return True
    if consumer.op in BINARY:
        return _push_into_binary(graph, order, consumer)
    if consumer.op == "Concat":
        return _push_into_concat(graph, order, consumer)
    if consumer.op in REDUCE:
        return _push_into_reduce(graph, transpose, order, consumer)
    if consumer.op == "Pad":
        return _push_into_pad(graph, transpose, order, consumer)
    return False


def _push_into_binary(graph: Graph, order: list[int], consumer: Node) -> bool:
    rank = len(order)
    inverse = list(np.argsort(order))
    inputs = []
    for operand in consumer.inputs:
        if order_of(operand) == order:
            inputs.append(operand.node.inputs[0])
        elif operand.value is not None and operand.value.ndim <= rank:
            value = operand.value.reshape((1,) * (rank - operand.value.ndim) + operand.value.shape)
            inputs.append(graph.const(np.transpose(value, inverse), name=operand.node.name))
        else:
            return False
    moved = graph.add(consumer.op, inputs, consumer.attrs, name=consumer.name).output()
    _replace(graph, consumer, _transpose(graph, moved, order, consumer.name))
    return True


def _push_into_concat(graph: Graph, order: list[int], consumer: Node) -> bool:
    if any(order_of(operand) != order for operand in consumer.inputs):
        return False
    axis = order[consumer.attrs["axis"] % len(order)]
    moved = graph.op("Concat", *[o.node.inputs[0] for o in consumer.inputs], name=consumer.name, axis=axis)
    _replace(graph, consumer, _transpose(graph, moved, order, consumer.name))
    return True


def _push_into_reduce(graph: Graph, transpose: Node, order: list[int], consumer: Node) -> bool:
    axes_value = consumer.inputs[1].value
    if consumer.inputs[0].node is not transpose or axes_value is None:
        return False
    rank = len(order)
    axes = sorted({int(a) % rank for a in np.ravel(axes_value)})
    new_axes = graph.const(np.array(sorted(order[a] for a in axes), dtype=np.int64),
                           name=consumer.inputs[1].node.name)
    moved = graph.add(consumer.op, [transpose.inputs[0], new_axes], consumer.attrs, name=consumer.name).output()
    if consumer.attrs.get("keep_dims"):
        rest = order
    else:
        kept = [order[i] for i in range(rank) if i not in axes]
        rest = [sorted(kept).index(k) for k in kept]
    _replace(graph, consumer, _transpose(graph, moved, rest, consumer.name) if rest != sorted(rest) else moved)
    return True


def _push_into_pad(graph: Graph, transpose: Node, order: list[int], consumer: Node) -> bool:
    begin, end = consumer.inputs[1].value, consumer.inputs[2].value
    if consumer.inputs[0].node is not transpose or begin is None or end is None:
        return False
    inputs = [transpose.inputs[0]]
    for pads in (begin, end):
        moved_pads = np.empty_like(pads)
        moved_pads[order] = pads  # pads[i] belongs to output axis i, which is input axis order[i]
        inputs.append(graph.const(moved_pads, name=f"{consumer.name}/pads"))
    moved = graph.add("Pad", inputs + consumer.inputs[3:], consumer.attrs, name=consumer.name).output()
    _replace(graph, consumer, _transpose(graph, moved, order, consumer.name))
    return True


def _transpose(graph: Graph, source: Output, order: list[int], name: str) -> Output:
    return graph.op("Transpose", source, graph.const(np.array(order, dtype=np.int64), name=f"{name}/order"),
                    name=f"{name}/transpose")


def _replace(graph: Graph, old: Node, new: Output) -> None:
    graph.replace_uses(old.output(), new)
