"""What every frontend shares: the handler registry (by op name and opset version), the
context a handler reads its node through, and how `--input`, `--input_shape` and `--batch`
override the shapes of the model's inputs."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import NodeRef, UnsupportedOpsError, UserInputError
from ..graph import Graph, Node, Output
from ..ops import spec
from ..options import ConversionOptions, Shape

Handler = Callable[["NodeContext"], "list[Output] | Output"]


class HandlerRegistry:
    """Handlers of one framework, each registered for an op name from an opset version on.

    `lookup(op, version)` returns the handler with the highest `since` not above `version`,
    as ONNX's own reference implementation picks operator versions."""

    def __init__(self, framework: str):
        self.framework = framework
        self._handlers: dict[str, list[tuple[int, Handler]]] = {}

    def register(self, *op_types: str, since: int = 1) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            for op_type in op_types:
                versions = self._handlers.setdefault(op_type, [])
                versions.append((since, fn))
                versions.sort(key=lambda item: item[0])
            return fn
        return decorate

    def lookup(self, op_type: str, version: int = 1) -> Handler | None:
        chosen = None
        for since, fn in self._handlers.get(op_type, ()):
            if since <= version:
                chosen = fn
        return chosen

    def supported(self) -> list[str]:
        return sorted(self._handlers)

    def check_supported(self, nodes: list[tuple[str, str, int]]) -> None:
        """Raise one error listing every (op, node name) that has no handler."""
        missing = [(op, name) for op, name, version in nodes if self.lookup(op, version) is None]
        if missing:
            raise UnsupportedOpsError(self.framework, missing)


def constant_value(output: Output, memo: dict[int, tuple[Node, list | None]] | None = None) -> np.ndarray | None:
    """The value `output` always has, computed from constants through ops that can evaluate
    (ShapeOf of a static shape included), or None when it depends on the model's inputs.

    Handlers need constants where ONNX passes shapes, axes or pads as tensors that are often
    computed (Shape -> Gather -> Concat -> Reshape). Iterative, so long chains are no problem;
    `memo` (id(node) -> (node, values)) lets a frontend share work across a whole translation."""
    memo = {} if memo is None else memo
    stack = [output.node]
    while stack:
        node = stack[-1]
        if id(node) in memo:
            stack.pop()
            continue
        if node.op == "Const":
            memo[id(node)] = (node, [node.value])
        elif node.op == "ShapeOf":
            memo[id(node)] = (node, spec("ShapeOf").fold(node))
        elif node.op == "Parameter" or spec(node.op).evaluate is None:
            memo[id(node)] = (node, None)
        else:
            pending = [s.node for s in node.inputs if id(s.node) not in memo]
            if pending:
                stack.extend(pending)
                continue
            values = [memo[id(s.node)][1] for s in node.inputs]
            if any(v is None for v in values):
                memo[id(node)] = (node, None)
            else:
                inputs = [v[s.index] for v, s in zip(values, node.inputs)]
                memo[id(node)] = (node, spec(node.op).evaluate(node, inputs))
        stack.pop()
    values = memo[id(output.node)][1]
    return None if values is None else values[output.index]


class NodeContext:
    """A source node as its handler sees it. Frontends subclass it to decode attributes."""

    def __init__(self, graph: Graph, name: str, op_type: str, inputs: list[Output | None],
                 attrs: dict[str, Any], opset: int = 1, num_outputs: int = 1,
                 memo: dict[int, tuple[Node, list | None]] | None = None):
        self.graph = graph
        self.name = name
        self.op_type = op_type
        self.inputs = inputs
        self.attrs = attrs
        self.opset = opset
        self.num_outputs = num_outputs
        self._memo = {} if memo is None else memo  # constant_value's, shared per translation

    def const_value(self, index: int) -> np.ndarray | None:
        """Input `index` as a numpy array when constants alone determine it, else None."""
        if not self.has_input(index):
            return None
        return constant_value(self.input(index), self._memo)

    def required_value(self, index: int, what: str = "") -> np.ndarray:
        """Input `index`, which the conversion needs to know now (axes, pads, shapes)."""
        value = self.const_value(index)
        if value is None:
            named = f"its {what} (input {index})" if what else f"input {index}"
            raise self.error(f"{named} must be constant (or computable from constants and "
                             f"static shapes), but it depends on the model's inputs")
        return value

    def input(self, index: int) -> Output:
        if index >= len(self.inputs) or self.inputs[index] is None:
            raise self.error(f"lacks its input {index}")
        return self.inputs[index]

    def has_input(self, index: int) -> bool:
        return index < len(self.inputs) and self.inputs[index] is not None

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def op(self, op_type: str, *inputs: Output, **attrs: Any) -> Output:
        """Add an OpenVINO op named after this source node."""
        return self.graph.op(op_type, *inputs, name=self.name, **attrs)

    def helper(self, op_type: str, *inputs: Output, suffix: str | None = None,
               **attrs: Any) -> Output:
        """Add a helper op named `<node name>/<suffix>` (the op type when no suffix is given):
        the node's own name stays for the op that produces its result."""
        return self.graph.op(op_type, *inputs, name=f"{self.name}/{suffix or op_type}", **attrs)

    def const(self, value: Any, dtype: Any = None) -> Output:
        return self.graph.const(value, name=f"{self.name}/const", dtype=dtype)

    @property
    def ref(self) -> NodeRef:
        """This source node, as errors name it."""
        return NodeRef(self.op_type, self.name)

    def error(self, message: str) -> UserInputError:
        return UserInputError(message, node=self.ref)


def input_overrides(model_inputs: list[tuple[str, Shape | None]],
                    options: ConversionOptions) -> dict[str, Shape | None]:
    """The shape each model input gets after `--input`, `--input_shape` and `--batch`.

    `model_inputs` lists (name, shape from the model) in model order. Names given by `--input`
    must exist; `--input_shape` applies by position to the `--input` names or, without them, to
    the model's inputs; `--batch` then sets dimension 0 of every input."""
    names = [name for name, _ in model_inputs]
    shapes = dict(model_inputs)
    # without --input, --input_shape gives the inputs left after --freeze_placeholder_with_value
    order = [cut.name for cut in options.input] or [
        name for name in names if name not in dict(options.freeze_placeholder_with_value)]
    for cut in options.input:
        if cut.name not in shapes:
            raise UserInputError(f"--input names {cut.name!r}, which is not an input of the model "
                                 f"(its inputs: {', '.join(names)})")
        if cut.shape is not None:
            shapes[cut.name] = cut.shape
    if options.input_shape:
        if len(options.input_shape) != len(order):
            raise UserInputError(f"--input_shape gives {len(options.input_shape)} shape(s) for "
                                 f"{len(order)} input(s) ({', '.join(order)})")
        for name, shape in zip(order, options.input_shape):
            _check_rank(name, shapes[name], shape)
            shapes[name] = shape
    if options.batch is not None:
        for name, shape in shapes.items():
            if not shape:
                raise UserInputError(f"--batch cannot apply to input {name!r}: its rank is unknown "
                                     f"or 0; give --input_shape instead")
            shapes[name] = (options.batch, *shape[1:])
    return shapes


def _check_rank(name: str, model_shape: Shape | None, shape: Shape) -> None:
    if model_shape is not None and len(model_shape) != len(shape):
        raise UserInputError(f"--input_shape gives input {name!r} rank {len(shape)} "
                             f"{list(shape)}, but the model's input has rank {len(model_shape)} "
                             f"{list(model_shape)}")
