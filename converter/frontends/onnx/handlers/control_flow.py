"""Control flow: If, Loop and Scan.

An If whose condition is known at conversion time is replaced by the branch it takes, inlined;
otherwise it becomes OpenVINO's If with both branches as bodies. Loop becomes OpenVINO's Loop
(its trip count and condition stay run-time inputs) and Scan a TensorIterator per batch item
(opset 8) or one TensorIterator (opset 9 on). Bodies read outer tensors through extra
Parameters (see `subgraphs`); a body that carries sequences or optionals has no IR form.
"""
from __future__ import annotations

import numpy as np

from ....graph import Graph, Node, Output
from ....ops.control_flow import (CURRENT_ITERATION, EXECUTION_CONDITION, Body, InputPort,
                                  OutputPort, Slicing, merge_shapes)
from ..subgraphs import BuiltBody, ControlFlowContext
from . import registry


# -- shared wiring -----------------------------------------------------------------------------
def tensor_outputs(ctx: ControlFlowContext, built: BuiltBody, what: str) -> list[Output]:
    """The body's outputs, which must be tensors to leave an OpenVINO body."""
    for index, value in enumerate(built.outputs):
        if not isinstance(value, Output):
            raise ctx.error(f"output {index} of its {what} is not a tensor; OpenVINO bodies "
                            f"cannot carry sequences or optionals")
    return list(built.outputs)


def body_result(built: BuiltBody, value: Output, index: int) -> Node:
    return built.graph.result(value, f"{built.graph.name}/output_{index}")


class NodeInputs:
    """The inputs of the op being built: fixed ones first, then each captured outer tensor
    once (both bodies of an If may read the same one)."""

    def __init__(self, fixed: list[Output]):
        self.outputs = list(fixed)
        self.fixed = len(fixed)

    def index_of(self, outer: Output) -> int:
        captured = self.outputs[self.fixed:]
        if outer in captured:
            return self.fixed + captured.index(outer)
        self.outputs.append(outer)
        return len(self.outputs) - 1

    def capture_ports(self, built: BuiltBody) -> list[InputPort]:
        return [InputPort(self.index_of(outer), parameter) for outer, parameter in built.captured]


def add_control_flow(ctx: ControlFlowContext, op: str, inputs: NodeInputs, bodies: dict[str, Body],
                     num_outputs: int) -> list[Output]:
    node = ctx.graph.add(op, inputs.outputs, dict(bodies), name=ctx.name, num_outputs=num_outputs)
    return [node.output(i) for i in range(num_outputs)]


def as_scalar(ctx: ControlFlowContext, value: Output, graph: Graph, suffix: str) -> Output:
    """A one-element tensor as a scalar, as OpenVINO wants conditions and trip counts."""
    if value.shape == ():
        return value
    empty = graph.const(np.zeros([0], np.int64), name=f"{ctx.name}/{suffix}/shape")
    return graph.op("Reshape", value, empty, name=f"{ctx.name}/{suffix}", special_zero=False)


# -- If ----------------------------------------------------------------------------------------
@registry.register("If")
def if_(ctx: ControlFlowContext):
    then_graph, else_graph = ctx.subgraph("then_branch"), ctx.subgraph("else_branch")
    condition = ctx.const_value(0)
    if condition is not None:
        if condition.size != 1:
            raise ctx.error(f"its condition has {condition.size} elements, not 1")
        return ctx.inline(then_graph if bool(condition.reshape(-1)[0]) else else_graph, [])
    inputs = NodeInputs([as_scalar(ctx, ctx.input(0), ctx.graph, "condition")])
    bodies = {}
    for key, graph in (("then_body", then_graph), ("else_body", else_graph)):
        built = ctx.body(graph, [])
        outputs = tensor_outputs(ctx, built, f"{key.split('_')[0]} branch")
        if len(outputs) != ctx.num_outputs:
            raise ctx.error(f"its {key.split('_')[0]} branch has {len(outputs)} outputs, the "
                            f"node {ctx.num_outputs}")
        results = [OutputPort(i, body_result(built, out, i)) for i, out in enumerate(outputs)]
        bodies[key] = Body(built.graph, inputs.capture_ports(built), results)
    return add_control_flow(ctx, "If", inputs, bodies, ctx.num_outputs)


# -- Loop --------------------------------------------------------------------------------------
@registry.register("Loop")
def loop(ctx: ControlFlowContext):
    """ONNX body: (iteration, condition, carried...) -> (condition, carried..., scan parts...).
    The body's condition input is always true while the loop runs: it becomes a constant, as
    in OpenVINO's own ONNX frontend. Scan parts are stacked along a new axis 0."""
    graph = ctx.subgraph("body")
    carried = [ctx.input(i) for i in range(2, len(ctx.inputs))]
    for index, value in enumerate(carried):
        if not isinstance(value, Output):
            raise ctx.error(f"its loop-carried input {index} is a sequence or optional, which an "
                            f"OpenVINO Loop cannot carry")
    trip = ctx.input(0) if ctx.has_input(0) else ctx.const(np.array(-1, np.int64))
    condition = ctx.input(1) if ctx.has_input(1) else ctx.const(np.array(True))
    condition = as_scalar(ctx, condition, ctx.graph, "condition")
    built = build_loop_body(ctx, graph, carried)
    outputs = tensor_outputs(ctx, built, "body")
    if len(outputs) != 1 + len(carried) + max(ctx.num_outputs - len(carried), 0):
        raise ctx.error(f"its body has {len(outputs)} outputs for {len(carried)} carried value(s) "
                        f"and {ctx.num_outputs} node output(s)")
    inputs = NodeInputs([as_scalar(ctx, trip, ctx.graph, "trip_count"), condition, *carried])
    iteration, _, *carried_in = built.parameters
    body = Body(built.graph, [InputPort(None, iteration, purpose=CURRENT_ITERATION)])
    stop = as_scalar(ctx, outputs[0], built.graph, "body_condition")
    body.outputs.append(OutputPort(None, body_result(built, stop, 0), purpose=EXECUTION_CONDITION))
    for index, (parameter, value) in enumerate(zip(carried_in, outputs[1:1 + len(carried)])):
        result = body_result(built, value, 1 + index)
        body.inputs.append(InputPort(2 + index, parameter))
        body.outputs.append(OutputPort(index, result))
        body.back_edges.append((result, parameter))
    for index, value in enumerate(outputs[1 + len(carried):], start=len(carried)):
        part = built.graph.op("Unsqueeze", value, built.graph.const(np.array([0], np.int64)),
                              name=f"{built.graph.name}/scan_{index}")
        body.outputs.append(OutputPort(index, body_result(built, part, 1 + index), Slicing(0)))
    body.inputs += inputs.capture_ports(built)
    return add_control_flow(ctx, "Loop", inputs, {"body": body}, ctx.num_outputs)


def build_loop_body(ctx: ControlFlowContext, graph, carried: list[Output]) -> BuiltBody:
    """The body, its carried Parameters widened (dims that change across iterations made
    dynamic) until what each iteration gives back fits what it reads."""
    types = [(v.shape, v.element_type) for v in carried]
    for _ in range(3):
        built = ctx.body(graph, [((), "i64"), None, *types], {1: always_true})
        produced = built.outputs[1:1 + len(carried)]
        widened = [(merge_shapes(shape, out.shape if isinstance(out, Output) else None),
                    element_type) for (shape, element_type), out in zip(types, produced)]
        if widened == types:
            return built
        types = widened
    return built


def always_true(graph: Graph, _) -> Output:
    """The condition a Loop body reads: true, since an iteration only runs while it holds."""
    return graph.const(np.array(True), name=f"{graph.name}/running")


# -- Scan --------------------------------------------------------------------------------------
@registry.register("Scan", since=9)
def scan(ctx: ControlFlowContext):
    return scan_outputs(ctx, [ctx.input(i) for i in range(len(ctx.inputs))])


@registry.register("Scan", since=8)
def scan8(ctx: ControlFlowContext):
    """Opset 8: input 0 is sequence_lens (unsupported when given) and every input has a batch
    axis 0 in front: each batch item is scanned alone (axis 1 becomes axis 0) and stacked."""
    if ctx.has_input(0):
        raise ctx.error("its sequence_lens input (opset 8) has no OpenVINO equivalent; leave it "
                        "empty to scan every whole sequence")
    inputs = [ctx.input(i) for i in range(1, len(ctx.inputs))]
    batch = inputs[0].shape[0] if inputs and inputs[0].shape else -1
    if batch == -1:
        raise ctx.error("the batch size (axis 0 of its inputs) must be static to convert an "
                        "opset-8 Scan")
    per_item = []
    for item in range(batch):
        index = ctx.const(np.array(item, np.int64))
        axis = ctx.const(np.array(0, np.int64))
        items = [ctx.helper("Gather", value, index, axis, suffix=f"batch_{item}/input_{i}",
                            batch_dims=0) for i, value in enumerate(inputs)]
        per_item.append(scan_outputs(ctx, items))
    axis0 = ctx.const(np.array([0], np.int64))
    stacked = []
    for index in range(ctx.num_outputs):
        parts = [ctx.helper("Unsqueeze", outputs[index], axis0, suffix=f"batch_{b}/output_{index}")
                 for b, outputs in enumerate(per_item)]
        stacked.append(parts[0] if len(parts) == 1 else
                       ctx.helper("Concat", *parts, suffix=f"output_{index}", axis=0))
    return stacked


def scan_outputs(ctx: ControlFlowContext, inputs: list[Output]) -> list[Output]:
    """One TensorIterator: states carried by back edges, scan inputs cut one slice per
    iteration along their axis (from the end when their direction is 1), scan outputs
    concatenated along theirs."""
    num_scan = ctx.attr("num_scan_inputs")
    if num_scan is None:
        raise ctx.error("lacks its num_scan_inputs attribute")
    states, scanned = inputs[:len(inputs) - num_scan], inputs[len(inputs) - num_scan:]
    input_axes = ctx.ints("scan_input_axes", [0] * num_scan)
    input_directions = ctx.ints("scan_input_directions", [0] * num_scan)
    slicings, types, adapters = [], [(s.shape, s.element_type) for s in states], {}
    for index, (value, axis, direction) in enumerate(zip(scanned, input_axes, input_directions)):
        if value.rank is None:
            raise ctx.error(f"the rank of its scan input {index} must be known")
        axis = ctx.axis(axis, value.rank)
        slicings.append(directed(axis, direction))
        types.append((value.shape[:axis] + (1,) + value.shape[axis + 1:], value.element_type))
        adapters[len(states) + index] = squeezer(ctx, axis)
    built = ctx.body(ctx.subgraph("body"), types, adapters)
    outputs = tensor_outputs(ctx, built, "body")
    body = Body(built.graph)
    node_inputs = NodeInputs([*states, *scanned])
    for index, parameter in enumerate(built.parameters):
        slicing = slicings[index - len(states)] if index >= len(states) else None
        body.inputs.append(InputPort(index, parameter, slicing))
    for index, value in enumerate(outputs[:len(states)]):
        result = body_result(built, value, index)
        body.outputs.append(OutputPort(index, result))
        body.back_edges.append((result, built.parameters[index]))
    scan_parts = outputs[len(states):]
    output_axes = ctx.ints("scan_output_axes", [0] * len(scan_parts))
    output_directions = ctx.ints("scan_output_directions", [0] * len(scan_parts))
    for k, (value, axis, direction) in enumerate(zip(scan_parts, output_axes, output_directions)):
        if value.rank is None:
            raise ctx.error(f"the rank of its scan output {k} must be known")
        axis = ctx.axis(axis, value.rank + 1)
        part = built.graph.op("Unsqueeze", value, built.graph.const(np.array([axis], np.int64)),
                              name=f"{built.graph.name}/scan_{k}")
        index = len(states) + k
        body.outputs.append(OutputPort(index, body_result(built, part, index),
                                       directed(axis, direction)))
    body.inputs += node_inputs.capture_ports(built)
    return add_control_flow(ctx, "TensorIterator", node_inputs, {"body": body}, ctx.num_outputs)


def directed(axis: int, direction: int) -> Slicing:
    """Forward: slices 0, 1, ...; reverse: from the last slice back to the first."""
    return Slicing(axis) if direction == 0 else Slicing(axis, start=-1, end=0, stride=-1)


def squeezer(ctx: ControlFlowContext, axis: int):
    """Turns a body Parameter holding a slice (extent 1 on `axis`) into the ONNX body's input."""
    def squeeze(graph: Graph, parameter: Output) -> Output:
        return graph.op("Squeeze", parameter, graph.const(np.array([axis], np.int64)),
                        name=f"{graph.name}/{parameter.node.name}/squeezed")
    return squeeze
