"""Common-subexpression elimination: what is computed twice is computed once.

Before: x -> ReLU -> a;  x -> ReLU -> b;  Const([2.0]) -> Multiply(a);  Const([2.0]) -> Multiply(b)
After:  x -> ReLU -> a, b;  Const([2.0]) read by one Multiply, whose output both readers take

Two nodes are the same when they are the same op with the same attributes reading the same
outputs (after the nodes before them were merged: one topological sweep merges whole repeated
branches). Two constants are the same when they have the same element type, shape and bytes.
Ops holding bodies (If, Loop, TensorIterator) are left alone.

Dead branches need no pass: the graph is what its results reach (`Graph.nodes()` walks from
the results and parameters), so a node no result needs is neither visited nor written.

Two model outputs, or a model output and a model input, are never merged into one tensor: the
IR keeps one tensor per name (see remove_noop_nodes).
"""
from __future__ import annotations

import hashlib
from typing import Any, Hashable

import numpy as np

from ..graph import Graph, Node
from .remove_noop_nodes import would_merge_model_tensors

NEVER_MERGED = frozenset({"Parameter", "Result", "If", "Loop", "TensorIterator"})


def run(graph: Graph, options=None) -> int:
    digests = _digests_of_repeated_constants(graph)
    seen: dict[Hashable, Node] = {}
    sweep = graph.sweep()
    merged = 0
    for node in sweep:
        key = _constant_key(node, digests) if node.op == "Const" else _op_key(node)
        if key is None:
            continue
        first = seen.setdefault(key, node)
        if first is node or not _same_values(first, node):
            continue
        pairs = [(node.output(i), first.output(i)) for i in range(len(node.outputs))]
        if any(would_merge_model_tensors(graph, sweep, old, new) for old, new in pairs):
            continue
        for old, new in pairs:
            sweep.replace(old, new)
        merged += 1
    return merged


def _op_key(node: Node) -> Hashable | None:
    if node.op in NEVER_MERGED:
        return None
    attrs = _frozen(node.attrs)
    if attrs is None:
        return None
    inputs = tuple((id(source.node), source.index) for source in node.inputs)
    return node.op, attrs, inputs, len(node.outputs)


def _type_and_shape(node: Node) -> Hashable:
    return node.outputs[0].element_type, node.value.dtype.str, node.value.shape


def _constant_key(node: Node, digests: dict[int, bytes]) -> Hashable | None:
    digest = digests.get(id(node))
    return None if digest is None else ("Const", _type_and_shape(node), digest)


def _digests_of_repeated_constants(graph: Graph) -> dict[int, bytes]:
    """id(Const) -> digest of its bytes, for the Consts that may have a twin: another Const of
    the same type and shape whose sampled bytes are the same too (the others are not hashed at
    all: a network's weights of one shape, as a ResNet's repeated blocks have, differ in their
    first bytes already, and hashing them all would read every weight)."""
    by_sample: dict[Hashable, list[Node]] = {}
    for node in graph.nodes():
        if node.op == "Const":
            by_sample.setdefault((_type_and_shape(node), _sample(node.value)), []).append(node)
    return {id(node): _digest(node.value)
            for group in by_sample.values() if len(group) > 1 for node in group}


SAMPLE_BYTES = 64


def _sample(value: np.ndarray) -> bytes:
    """A few bytes from the start, the end and evenly across the value: equal for equal values."""
    if value.nbytes <= 4 * SAMPLE_BYTES:
        return _flat_bytes(value).tobytes()
    raw = _flat_bytes(value)
    step = max(1, raw.size // SAMPLE_BYTES)
    return raw[:SAMPLE_BYTES].tobytes() + raw[-SAMPLE_BYTES:].tobytes() + raw[::step].tobytes()


def _flat_bytes(value: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(value).reshape(-1).view(np.uint8)


def _digest(value: np.ndarray) -> bytes:
    return hashlib.blake2b(memoryview(_flat_bytes(value)), digest_size=16).digest()


def _same_values(first: Node, node: Node) -> bool:
    """Ops keyed alike are the same; Consts keyed alike are compared byte for byte (a digest
    collision must not merge two weights)."""
    return node.op != "Const" or np.array_equal(_flat_bytes(first.value), _flat_bytes(node.value))


def _frozen(value: Any) -> Hashable | None:
    """A hashable stand-in for an attribute value, or None when there is none."""
    if isinstance(value, dict):
        items = [(k, _frozen(v)) for k, v in sorted(value.items())]
        return None if any(v is None for _, v in items) else ("dict", tuple(items))
    if isinstance(value, (list, tuple)):
        items = [_frozen(v) for v in value]
        return None if any(v is None for v in items) else ("seq", tuple(items))
    if isinstance(value, np.ndarray):
        return "array", value.dtype.str, value.shape, value.tobytes()
    if isinstance(value, np.generic):
        return value.item()
    try:
        hash(value)
    except TypeError:
        return None
    return value
