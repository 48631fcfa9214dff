"""Name scopes and subgraph translation for ONNX control flow (If, Loop, Scan, SequenceMap).

A `Scope` maps the tensor names of one ONNX graph to values (tensors, sequences, optionals);
a subgraph's scope sees its enclosing scopes' names too. A subgraph is translated one of two
ways:

- inline: its nodes go into the enclosing Graph, its inputs bound to given values (an If whose
  condition is constant, a SequenceMap over a sequence of known length);
- as a body: its nodes go into a Graph of their own with a Parameter per input; a name it
  reads from an enclosing scope is captured, as a copy for a constant, else as one more body
  Parameter that the control-flow op feeds from the outer tensor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import onnx

from ...errors import UserInputError
from ...graph import Graph, Node, Output, Shape
from .context import OnnxNodeContext
from .model import tensor_value
from .values import OptionalValue, SequenceValue, Value

if TYPE_CHECKING:
    from .translator import OnnxTranslator


class Scope:
    """The values of one graph's tensor names; `parent` the enclosing graph's scope. A body
    scope (`capture=True`) has a Graph of its own and captures what it reads from outside."""

    def __init__(self, graph: Graph, initializers: dict[str, onnx.TensorProto],
                 parent: "Scope | None" = None, capture: bool = False):
        self.graph = graph
        self.initializers = initializers
        self.parent = parent
        self.capture = capture
        self.values: dict[str, Value] = {}
        self.captured: list[tuple[Output, Node]] = []  # (outer tensor, body Parameter)
        self._captured_ids: dict[Output, Output] = {}

    def lookup(self, name: str) -> Value | None:
        """The value of `name` here or in an enclosing scope, None when nothing produces it."""
        if name in self.values:
            return self.values[name]
        if name in self.initializers:
            self.values[name] = self.graph.const(tensor_value(self.initializers[name]), name=name)
            return self.values[name]
        if self.parent is None:
            return None
        value = self.parent.lookup(name)
        if value is None or not self.capture:
            return value
        self.values[name] = self.capture_value(value, name)
        return self.values[name]

    def capture_value(self, value: Value, name: str) -> Value:
        if isinstance(value, SequenceValue):
            return value.with_items(self.capture_value(item, f"{name}/{i}")
                                    for i, item in enumerate(value.items))
        if isinstance(value, OptionalValue):
            inner = None if value.value is None else self.capture_value(value.value, name)
            return OptionalValue(inner)
        if value.node.op == "Const":
            return self.graph.const(value.value, name=name)
        if value not in self._captured_ids:
            parameter = self.graph.parameter(name, value.shape, value.element_type)
            parameter.info.names = set()  # the outer tensor keeps its name
            self.captured.append((value, parameter.node))
            self._captured_ids[value] = parameter
        return self._captured_ids[value]


@dataclass
class BuiltBody:
    """A subgraph translated as a body: its Graph, the Parameter of each formal input, the
    value of each formal output, and the outer tensors it captured (with their Parameters)."""

    graph: Graph
    parameters: list[Node | None]  # None for an input bound without a Parameter
    outputs: list[Value]
    captured: list[tuple[Output, Node]] = field(default_factory=list)


class ControlFlowContext(OnnxNodeContext):
    """An OnnxNodeContext that can also translate the node's graph attributes."""

    def __init__(self, *args: Any, translator: "OnnxTranslator", scope: Scope):
        super().__init__(*args)
        self.translator = translator
        self.scope = scope

    def subgraph(self, name: str) -> onnx.GraphProto:
        graph = self.attrs.get(name)
        if not isinstance(graph, onnx.GraphProto):
            raise self.error(f"lacks its graph attribute {name!r}")
        return graph

    def inline(self, graph: onnx.GraphProto, inputs: list[Value]) -> list[Value]:
        """Translate `graph` into the current Graph with its inputs bound to `inputs`."""
        scope = Scope(self.graph, {t.name: t for t in graph.initializer}, self.scope)
        self._bind(graph, scope, inputs)
        return self._run(graph, scope)

    def body(self, graph: onnx.GraphProto, input_types: list[tuple[Shape, str] | None],
             adapters: dict[int, Callable[[Graph, Output], Output]] | None = None) -> BuiltBody:
        """Translate `graph` into a Graph of its own, a Parameter per input of `input_types`;
        `adapters[i]`, when given, derives what the subgraph reads as input i from Parameter i
        (a Squeeze of a TensorIterator slice), or makes it without a Parameter when
        `input_types[i]` is None (a constant)."""
        body_graph = Graph(f"{self.name}/{graph.name or 'body'}")
        scope = Scope(body_graph, {t.name: t for t in graph.initializer}, self.scope, capture=True)
        if len(input_types) != len(graph.input):
            raise self.error(f"its subgraph {graph.name!r} declares {len(graph.input)} inputs, "
                             f"but the node gives it {len(input_types)}")
        parameters = []
        for info, types in zip(graph.input, input_types):
            adapt = (adapters or {}).get(len(parameters))
            parameter = None if types is None else body_graph.parameter(info.name, *types)
            scope.values[info.name] = parameter if adapt is None else adapt(body_graph, parameter)
            parameters.append(None if parameter is None else parameter.node)
        outputs = self._run(graph, scope)
        return BuiltBody(body_graph, parameters, outputs, scope.captured)

    def _bind(self, graph: onnx.GraphProto, scope: Scope, inputs: list[Value]) -> None:
        if len(inputs) != len(graph.input):
            raise self.error(f"its subgraph {graph.name!r} declares {len(graph.input)} inputs, "
                             f"but the node gives it {len(inputs)}")
        for info, value in zip(graph.input, inputs):
            scope.values[info.name] = value

    def _run(self, graph: onnx.GraphProto, scope: Scope) -> list[Value]:
        for node in graph.node:
            self.translator.translate(node, scope)
        outputs = []
        for info in graph.output:
            value = scope.lookup(info.name)
            if value is None:
                raise UserInputError(f"subgraph {graph.name!r} of node {self.name!r} outputs "
                                     f"{info.name!r}, which nothing in it produces", node=self.ref)
            outputs.append(value)
        return outputs


def subgraph_nodes(nodes) -> list[onnx.NodeProto]:
    """`nodes` and, depth first, every node of their graph attributes."""
    found = []
    for node in nodes:
        found.append(node)
        for attribute in node.attribute:
            graphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH \
                else list(attribute.graphs)
            for graph in graphs:
                found += subgraph_nodes(graph.node)
    return found


def outer_names(node: onnx.NodeProto) -> set[str]:
    """The names a node reads: its inputs and what its subgraphs read from outside them."""
    names = {name for name in node.input if name}
    for attribute in node.attribute:
        graphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH \
            else list(attribute.graphs)
        for graph in graphs:
            inner = {i.name for i in graph.input} | {t.name for t in graph.initializer}
            inner |= {o for n in graph.node for o in n.output}
            for sub in graph.node:
                names |= outer_names(sub) - inner
            names |= {o.name for o in graph.output} - inner
    return names
