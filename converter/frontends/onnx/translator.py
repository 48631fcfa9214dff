"""Translate a loaded ONNX ModelProto into a Graph of OpenVINO ops, node by node."""
from __future__ import annotations

import numpy as np
import onnx

from ...element_types import to_numpy
from ...errors import NodeRef, UserInputError, attributed
from ...graph import Graph, Node, Output
from ...options import ConversionOptions
from ..common import input_overrides
from .handlers import registry
from .model import (DEFAULT_DOMAINS, decode_attribute, value_info_shape, value_info_type)
from .subgraphs import ControlFlowContext, Scope, outer_names, subgraph_nodes
from .values import OptionalValue, SequenceValue, Value, kind_of

STAGE = "frontend onnx"


def node_name(node: onnx.NodeProto) -> str:
    """ONNX node names are optional: fall back on the first output's name."""
    return node.name or next((o for o in node.output if o), node.op_type)


def op_key(node: onnx.NodeProto) -> str:
    """The registry key: the op type, qualified by its domain outside the default one."""
    return node.op_type if node.domain in DEFAULT_DOMAINS else f"{node.domain}.{node.op_type}"


class OnnxTranslator:
    def __init__(self, model: onnx.ModelProto, opset: int, options: ConversionOptions):
        self.model = model
        self.opset = opset
        self.options = options
        self.graph = Graph(model.graph.name or "model")
        self.graph.source_layout = "NCHW"
        self.initializers = {t.name: t for t in model.graph.initializer}
        self.scope = Scope(self.graph, self.initializers)  # the model's names
        self.tensors = self.scope.values
        self.memo: dict[int, tuple[Node, list | None]] = {}
        self.cuts = self.cut_tensors()

    # -- what to translate ------------------------------------------------------------------
    def output_names(self) -> list[str]:
        if not self.options.output:
            return [o.name for o in self.model.graph.output]
        known = {o for n in self.model.graph.node for o in n.output if o}
        known |= {i.name for i in self.model.graph.input} | set(self.initializers)
        missing = [name for name in self.options.output if name not in known]
        if missing:
            raise UserInputError(f"--output names {', '.join(missing)}, which no tensor of the "
                                 f"model is called (use ONNX tensor names)")
        return list(self.options.output)

    def cut_tensors(self) -> list[str]:
        """`--input` names of tensors computed inside the model: the model is cut there, what
        computed them is dropped and they become inputs (as mo cuts a graph)."""
        produced = {o for n in self.model.graph.node for o in n.output if o}
        names = [cut.name for cut in self.options.input] + list(self.options.frozen_inputs())
        return list(dict.fromkeys(name for name in names if name in produced))

    def needed_nodes(self, outputs: list[str]) -> list[onnx.NodeProto]:
        """The nodes the outputs depend on, in model order (all of them without --output or
        an --input cut inside the model)."""
        nodes = list(self.model.graph.node)
        if not self.options.output and not self.cuts:
            return nodes
        producer = {o: i for i, n in enumerate(nodes) for o in n.output if o and o not in self.cuts}
        keep: set[int] = set()
        stack = [producer[name] for name in outputs if name in producer]
        while stack:
            index = stack.pop()
            if index not in keep:
                keep.add(index)
                stack.extend(producer[i] for i in outer_names(nodes[index]) if i in producer)
        return [n for i, n in enumerate(nodes) if i in keep]

    def cut_infos(self) -> list[onnx.ValueInfoProto]:
        """A ValueInfo per inner cut: the model's (or ONNX shape inference's) when it has one,
        else f32 of unknown shape (--input gives the shape)."""
        if not self.cuts:
            return []
        graph = self.model.graph
        known = {i.name: i for i in list(graph.value_info) + list(graph.output)}
        if any(name not in known for name in self.cuts):
            try:
                inferred = onnx.shape_inference.infer_shapes(self.model).graph.value_info
                known.update((i.name, i) for i in inferred if i.name not in known)
            except Exception:  # noqa: BLE001 (inference is a help here, not a requirement)
                pass
        return [known[name] if name in known and known[name].type.HasField("tensor_type")
                else onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                for name in self.cuts]

    # -- building ---------------------------------------------------------------------------
    def add_inputs(self, nodes: list[onnx.NodeProto], outputs: list[str]) -> None:
        used = {i for n in nodes for i in outer_names(n)} | set(outputs)
        inputs = [i for i in self.model.graph.input if i.name not in self.initializers]
        if self.options.output or self.cuts:
            inputs = [i for i in inputs if i.name in used] + self.cut_infos()
        for info in inputs:
            self.check_tensor_input(info, nodes)
        shapes = input_overrides([(i.name, value_info_shape(i)) for i in inputs], self.options)
        frozen = self.options.frozen_inputs()  # --input name->[v], --freeze_placeholder_with_value
        for info in inputs:
            element_type = value_info_type(info)
            if info.name in frozen:
                self.tensors[info.name] = self.frozen_input(info.name, shapes[info.name],
                                                            element_type, frozen[info.name])
            else:
                self.tensors[info.name] = self.graph.parameter(info.name, shapes[info.name],
                                                               element_type)

    def check_tensor_input(self, info: onnx.ValueInfoProto, nodes: list[onnx.NodeProto]) -> None:
        """A model input OpenVINO IR cannot hold (a sequence, an optional, a map, strings) is an
        error naming the node that reads it."""
        kind = info.type.WhichOneof("value")
        is_string = kind == "tensor_type" and \
            info.type.tensor_type.elem_type == onnx.TensorProto.STRING
        if kind == "tensor_type" and not is_string:
            return
        what = "a string tensor" if is_string else {
            "sequence_type": "a sequence", "optional_type": "an optional",
            "map_type": "a map"}.get(kind, f"a {kind}")
        reader = next((n for n in nodes if info.name in outer_names(n)), None)
        ref = None if reader is None else NodeRef(op_key(reader), node_name(reader))
        raise UserInputError(f"model input {info.name!r} is {what}, which OpenVINO IR cannot "
                             f"hold (IR inputs are numeric tensors)", node=ref)

    def frozen_input(self, name: str, shape, element_type: str, value) -> Output:
        """`--input name[shape]->[values]`: the input becomes a constant."""
        array = np.asarray(value, dtype=to_numpy(element_type))
        if shape is not None and -1 not in shape:
            if array.size != int(np.prod(shape)):
                raise UserInputError(f"--input {name}: {array.size} value(s) do not fill shape "
                                     f"{list(shape)}")
            array = array.reshape(shape)
        return self.graph.const(array, name=name)

    def tensor(self, name: str, consumer: str, scope: Scope | None = None) -> Value | None:
        if not name:
            return None
        value = (scope or self.scope).lookup(name)
        if value is None:
            raise UserInputError(f"node {consumer!r} reads tensor {name!r}, which nothing "
                                 f"produces (an unused optional output, or a cut input?)")
        return value

    def translate(self, node: onnx.NodeProto, scope: Scope | None = None) -> None:
        """Translate `node` in `scope` (the model's, or a subgraph's being translated)."""
        scope = scope or self.scope
        name = node_name(node)
        inputs = [self.tensor(i, name, scope) for i in node.input]
        attrs = {a.name: decode_attribute(a) for a in node.attribute}
        ctx = ControlFlowContext(scope.graph, name, node.op_type, inputs, attrs, self.opset,
                                 len(node.output), self.memo, translator=self, scope=scope)
        handler = registry.lookup(op_key(node), self.opset)
        with attributed(stage=STAGE, node=ctx.ref, doing="translating it"):
            produced = handler(ctx)
        single = isinstance(produced, (Output, SequenceValue, OptionalValue))
        produced = [produced] if single else list(produced)
        for tensor_name, output in zip(node.output, produced):
            if not tensor_name or output is None:
                continue
            if tensor_name in self.cuts and scope is self.scope:
                continue  # an --input cut: the model input stands for it
            scope.values[tensor_name] = output
            if isinstance(output, Output) and output.node.op not in ("Parameter", "Const"):
                output.info.names.add(tensor_name)

    def model_output(self, name: str) -> Output:
        value = self.tensor(name, "the model's outputs")
        if not isinstance(value, Output):
            producer = next((n for n in self.model.graph.node if name in n.output), None)
            ref = None if producer is None else NodeRef(op_key(producer), node_name(producer))
            raise UserInputError(f"model output {name!r} is {kind_of(value)}, which OpenVINO IR "
                                 f"cannot hold (IR outputs are tensors)", node=ref)
        return value

    def run(self) -> Graph:
        outputs = self.output_names()
        if any(not name for name in outputs):
            raise UserInputError("the model declares an output without a name; every graph "
                                 "output needs the name of the tensor it reads")
        nodes = self.needed_nodes(outputs)
        registry.check_supported([(op_key(n), node_name(n), self.opset)
                                  for n in subgraph_nodes(nodes)])
        self.add_inputs(nodes, outputs)
        for node in nodes:
            self.translate(node)
        for name in outputs:
            self.graph.result(self.model_output(name), name)
        return self.graph
