"""Control flow with bodies: If (opset8), Loop (opset5) and TensorIterator (opset1).

Each of these ops carries one or two body graphs (`Body`) in its attrs: a `Graph` of its own
(its Parameters and Results), the port map that ties the op's inputs to body Parameters and
body Results to the op's outputs, and, for Loop and TensorIterator, the back edges that feed a
Result of one iteration to a Parameter of the next. The IR writer serializes a body as a nested
<body> (<then_body>/<else_body> for If) with its <port_map> and <back_edges>, as OpenVINO does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..graph import Graph, Node, Shape
from . import OpSpec, register

CURRENT_ITERATION = "current_iteration"
EXECUTION_CONDITION = "execution_condition"


@dataclass
class Slicing:
    """How a TensorIterator/Loop input is cut per iteration, or an output concatenated."""

    axis: int
    start: int = 0
    end: int = -1
    stride: int = 1
    part_size: int = 1

    def attributes(self) -> dict[str, int]:
        return {"axis": self.axis, "start": self.start, "end": self.end, "stride": self.stride,
                "part_size": self.part_size}


@dataclass
class InputPort:
    """Input `external` of the op (None for a special port) feeds body Parameter `parameter`."""

    external: int | None
    parameter: Node
    slicing: Slicing | None = None
    purpose: str | None = None


@dataclass
class OutputPort:
    """Body Result `result` gives output `external` of the op (None for a special port)."""

    external: int | None
    result: Node
    slicing: Slicing | None = None
    purpose: str | None = None


@dataclass
class Body:
    """One body of a control-flow op and how it is wired to the op."""

    graph: Graph
    inputs: list[InputPort] = field(default_factory=list)
    outputs: list[OutputPort] = field(default_factory=list)
    back_edges: list[tuple[Node, Node]] = field(default_factory=list)  # (Result, Parameter)

    def result_type(self, port: OutputPort) -> tuple[Shape, str | None]:
        source = port.result.inputs[0]
        return source.shape, source.element_type

    def carried(self, port: OutputPort) -> Node | None:
        """The Parameter a back edge feeds from this output's Result, if any."""
        return next((p for r, p in self.back_edges if r is port.result), None)


def merge_shapes(a: Shape, b: Shape) -> Shape:
    """The shape both `a` and `b` fit: differing dims dynamic, differing ranks unknown."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else -1 for x, y in zip(a, b))


def concatenated(shape: Shape, slicing: Slicing, iterations: int | None) -> Shape:
    """The shape of per-iteration `shape` parts concatenated along `slicing.axis`."""
    if shape is None:
        return None
    axis = slicing.axis % len(shape)
    size = -1 if iterations is None or shape[axis] == -1 else shape[axis] * iterations
    return shape[:axis] + (size,) + shape[axis + 1:]


def body_outputs(node: Node, body: Body, iterations: int | None):
    """(shape, element type) of each output of a Loop or TensorIterator."""
    types: list = [(None, None)] * len(node.outputs)
    for port in body.outputs:
        if port.external is None:
            continue
        shape, element_type = body.result_type(port)
        if port.slicing is not None:
            shape = concatenated(shape, port.slicing, iterations)
        else:
            parameter = body.carried(port)
            if parameter is not None:
                shape = merge_shapes(shape, parameter.outputs[0].shape)
            if iterations is None or iterations == 0:
                shape = _maybe_initial(node, body, parameter, shape)
        types[port.external] = (shape, element_type)
    return types


def _maybe_initial(node: Node, body: Body, parameter: Node | None, shape: Shape) -> Shape:
    """With an unknown or zero trip count a carried output may be the initial value itself."""
    if parameter is None:
        return shape
    initial = next((node.inputs[p.external].shape for p in body.inputs
                    if p.parameter is parameter and p.external is not None), None)
    return merge_shapes(shape, initial)


@register
class If(OpSpec):
    type = "If"
    version = "opset8"
    bodies: ClassVar[tuple[tuple[str, str], ...]] = (("then_port_map", "then_body"),
                                                     ("else_port_map", "else_body"))

    @staticmethod
    def infer(node):
        then, other = node.attrs["then_body"], node.attrs["else_body"]
        types = [(None, None)] * len(node.outputs)
        found = {}
        for body in (then, other):
            for port in body.outputs:
                found.setdefault(port.external, []).append(body.result_type(port))
        for index, pair in found.items():
            (shape_a, type_a), (shape_b, _) = pair[0], pair[-1]
            types[index] = (merge_shapes(shape_a, shape_b), type_a)
        return types


@register
class Loop(OpSpec):
    """Inputs: trip count (-1: unbounded), execution condition, then the body's inputs."""

    type = "Loop"
    version = "opset5"
    bodies: ClassVar[tuple[tuple[str, str], ...]] = (("port_map", "body"),)

    @staticmethod
    def infer(node):
        return body_outputs(node, node.attrs["body"], Loop.static_iterations(node))

    @staticmethod
    def static_iterations(node) -> int | None:
        """The trip count when it is constant and no condition can end the loop early."""
        trip, condition = node.inputs[0].value, node.inputs[1].value
        body = node.attrs["body"]
        stop = next((p.result.inputs[0].value for p in body.outputs
                     if p.purpose == EXECUTION_CONDITION), None)
        if trip is None or condition is None or stop is None:
            return None
        if not bool(condition.reshape(-1)[0]):
            return 0
        return int(trip.reshape(-1)[0]) if bool(stop.reshape(-1)[0]) and trip.reshape(-1)[0] >= 0 \
            else None


@register
class TensorIterator(OpSpec):
    """Iterates once per part of its sliced inputs (all cut along their axis alike)."""

    type = "TensorIterator"
    version = "opset1"
    bodies: ClassVar[tuple[tuple[str, str], ...]] = (("port_map", "body"),)

    @staticmethod
    def infer(node):
        body = node.attrs["body"]
        iterations = None
        for port in body.inputs:
            shape = node.inputs[port.external].shape
            if port.slicing is not None and shape is not None:
                size = shape[port.slicing.axis % len(shape)]
                iterations = None if size == -1 else size // port.slicing.part_size
        return body_outputs(node, body, iterations)
