"""The converter's in-memory graph: OpenVINO operations wired output-to-input.

A `Node` is one OpenVINO operation (its IR type, attributes, and for `Const` its value). Its
inputs are `Output`s of other nodes; its outputs carry a shape, an element type and the tensor
names users feed and read by. The graph is what is reachable from its results (plus every
parameter): a node no result needs is gone without any bookkeeping. Shapes are tuples of ints,
-1 for a dynamic dimension, or None for an unknown rank.

Import rule: `converter.ops` builds on this module (op specs read `Node` and `Shape`), so this
module never imports `converter.ops` at module level, which would be a cycle. `Graph.add` and
`Graph.infer_shapes` import `converter.ops` when first called, once both modules are loaded:
importing `converter.graph` alone loads no op module, and either module can be imported first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

import numpy as np

from .element_types import from_numpy

Shape = tuple[int, ...] | None


@dataclass
class TensorInfo:
    """What is known of one output of a node."""

    shape: Shape = None
    element_type: str | None = None
    names: set[str] = field(default_factory=set)


class Output(NamedTuple):
    """Output port `index` of `node`: what an input of another node is connected to."""

    node: "Node"
    index: int = 0

    @property
    def info(self) -> TensorInfo:
        return self.node.outputs[self.index]

    @property
    def shape(self) -> Shape:
        return self.info.shape

    @property
    def element_type(self) -> str | None:
        return self.info.element_type

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def value(self) -> np.ndarray | None:
        """The constant carried here, or None when this is not the output of a Const."""
        return self.node.value if self.node.op == "Const" else None


class Node:
    """One OpenVINO operation."""

    def __init__(self, op: str, name: str, inputs: list[Output], attrs: dict[str, Any],
                 num_outputs: int = 1, value: np.ndarray | None = None):
        self.op = op
        self.name = name
        self.inputs = list(inputs)
        self.attrs = dict(attrs)
        self.outputs = [TensorInfo() for _ in range(num_outputs)]
        self.value = value
        self.rt_info: dict[str, str] = {}

    def output(self, index: int = 0) -> Output:
        return Output(self, index)

    def __repr__(self) -> str:
        return f"<{self.op} {self.name!r}>"


class Graph:
    """A model under conversion: parameters, results, and what lies between."""

    def __init__(self, name: str = "model"):
        self.name = name
        self.parameters: list[Node] = []
        self.results: list[Node] = []
        self._used_names: set[str] = set()
        self.source_layout: str | None = None  # "NCHW" or "NHWC": where channels sit on inputs

    # -- building ---------------------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        """`base`, or `base_N` when a node already has that name: IR layer names stay unique."""
        name, n = base, 1
        while name in self._used_names:
            name = f"{base}_{n}"
            n += 1
        self._used_names.add(name)
        return name

    def add(self, op: str, inputs: list[Output], attrs: dict[str, Any] | None = None,
            name: str | None = None, num_outputs: int = 1) -> Node:
        """Create a node, infer its outputs at once so that handlers can read shapes."""
        from .ops import infer_node

        node = Node(op, self.unique_name(name or op), inputs, attrs or {}, num_outputs)
        infer_node(node)
        return node

    def op(self, op: str, *inputs: Output, name: str | None = None, **attrs: Any) -> Output:
        """Shorthand for a single-output node: `g.op("Add", a, b, auto_broadcast="numpy")`."""
        return self.add(op, list(inputs), attrs, name=name).output()

    def const(self, value, name: str | None = None, dtype=None) -> Output:
        array = np.asarray(value, dtype=dtype)
        if not array.flags.c_contiguous:  # np.ascontiguousarray would turn a scalar into 1-D
            array = array.copy(order="C")
        node = Node("Const", self.unique_name(name or "Constant"), [], {}, value=array)
        node.outputs[0] = TensorInfo(tuple(array.shape), from_numpy(array.dtype))
        return node.output()

    def parameter(self, name: str, shape: Shape, element_type: str) -> Output:
        node = Node("Parameter", self.unique_name(name), [], {})
        node.outputs[0] = TensorInfo(shape, element_type, {name})
        self.parameters.append(node)
        return node.output()

    def result(self, output: Output, name: str) -> Node:
        """Mark `output` as a model output read by `name`."""
        output.info.names.add(name)
        node = Node("Result", self.unique_name(f"{name}/sink_port_0"), [output], {}, num_outputs=0)
        self.results.append(node)
        return node

    # -- reading ----------------------------------------------------------------------------
    def nodes(self) -> list[Node]:
        """Every live node in a deterministic topological order (inputs before consumers)."""
        order: list[Node] = []
        seen: set[int] = set()
        roots = self.parameters + self.results
        for root in roots:
            stack: list[tuple[Node, Iterator[Output]]] = []
            if id(root) not in seen:
                seen.add(id(root))
                stack.append((root, iter(root.inputs)))
            while stack:
                node, pending = stack[-1]
                for source in pending:
                    if id(source.node) not in seen:
                        seen.add(id(source.node))
                        stack.append((source.node, iter(source.node.inputs)))
                        break
                else:
                    stack.pop()
                    order.append(node)
        return order

    def consumers(self) -> dict[int, list[tuple[Node, int]]]:
        """id(node) -> [(consumer, input index)] over the live graph."""
        uses: dict[int, list[tuple[Node, int]]] = {}
        for node in self.nodes():
            for i, source in enumerate(node.inputs):
                uses.setdefault(id(source.node), []).append((node, i))
        return uses

    # -- editing ----------------------------------------------------------------------------
    def replace_uses(self, old: Output, new: Output) -> None:
        """Point every consumer of `old` at `new`; tensor names that users read move along."""
        if old == new:
            return
        for node in self.nodes():
            node.inputs = [new if source == old else source for source in node.inputs]
        new.info.names |= old.info.names
        old.info.names = set()

    def sweep(self) -> "Sweep":
        """A single pass over the graph in topological order that may replace outputs."""
        return Sweep(self)

    def uses(self, output: Output) -> list[tuple[Node, int]]:
        """Every (consumer, input index) reading `output`."""
        return [(node, i) for node in self.nodes() for i, source in enumerate(node.inputs)
                if source == output]

    @staticmethod
    def reconnect(uses: list[tuple[Node, int]], new: Output) -> None:
        """Point exactly the given inputs at `new` (names stay where they are)."""
        for node, index in uses:
            node.inputs[index] = new

    def infer_shapes(self) -> None:
        from .ops import infer_node

        for node in self.nodes():
            if node.op not in ("Parameter", "Const"):
                infer_node(node)


def _read_counts(order: list[Node]) -> dict[tuple[int, int], int]:
    """(id(node), output index) -> how many inputs of the nodes in `order` read that output."""
    reads: dict[tuple[int, int], int] = {}
    for node in order:
        for source in node.inputs:
            key = (id(source.node), source.index)
            reads[key] = reads.get(key, 0) + 1
    return reads


class Sweep:
    """One topological pass of a rewrite: `for node in sweep:` visits every live node once,
    after pointing its inputs at the replacements made so far; `sweep.replace(old, new)` makes
    every later consumer of `old` read `new`. A whole pass costs one traversal, where calling
    `Graph.replace_uses` per rewrite would cost one per rewrite."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.replacements: dict[Output, Output] = {}
        self._reads: dict[tuple[int, int], int] = {}

    def __iter__(self) -> Iterator[Node]:
        """Nothing here keeps a node alive once the sweep is past it: visited nodes leave the
        order, and a replaced output is forgotten once its last reader was redirected, so a
        replaced constant (a weight folded into a new one) is freed as the pass goes rather
        than when it ends."""
        order = self.graph.nodes()
        self._reads = _read_counts(order)
        for index in range(len(order)):
            node, order[index] = order[index], None
            if self.replacements:
                node.inputs = [self._redirected(source) for source in node.inputs]
            yield node

    def _redirected(self, source: Output) -> Output:
        new = self.replacements.get(source)
        if new is None:
            return source
        key = (id(source.node), source.index)
        self._reads[key] = self._reads.get(key, 1) - 1
        if self._reads[key] <= 0:
            del self.replacements[source]
        return new

    def replace(self, old: Output, new: Output) -> None:
        new.info.names |= old.info.names
        old.info.names = set()
        self.replacements[old] = new
