"""GraphDef -> Graph: find the outputs, walk back to what they need, translate node by node."""
from __future__ import annotations

from ...errors import NodeRef, UserInputError, attributed
from ...graph import Graph, Output
from ...options import ConversionOptions
from ..common import input_overrides
from .context import TFNodeContext
from .graph_def import find_sinks, input_node_name, split_tensor_name
from .handlers import registry
from .handlers.basic import model_input
from .tensors import shape_of

_INPUT_OPS = ("Placeholder", "PlaceholderWithDefault")
STAGE = "frontend tf"


def translate(graph_def, options: ConversionOptions,
              output_aliases: dict[str, str] | None = None) -> Graph:
    """The graph computing `options.output` (or the graph's sinks) from its placeholders.

    `output_aliases` maps a tensor name (`Identity:0`) to an extra name its result carries,
    such as the output name of a SavedModel signature."""
    nodes = {node.name: node for node in graph_def.node}
    sinks = not options.output
    outputs = list(options.output) or find_sinks(graph_def.node)
    if not outputs:
        raise UserInputError("the graph has no outputs to convert; name them with --output")
    cuts = {cut.name for cut in options.input}
    order = _needed_nodes(nodes, [split_tensor_name(o)[0] for o in outputs], cuts)
    # `--input` may name any node: what feeds it is dropped and it becomes a model input
    # (as mo's --input=map/TensorArrayStack/TensorArrayGatherV3 for resnet-50-tf).
    internal_cuts = {node.name for node in order if node.name in cuts and node.op not in _INPUT_OPS}
    registry.check_supported([(node.op, node.name, 1) for node in order
                              if node.name not in internal_cuts])
    model_inputs = [node for node in order if node.op == "Placeholder" or node.name in cuts]
    shapes = input_overrides([(node.name, _declared_shape(node)) for node in model_inputs], options)
    frozen = {cut.name: cut.value for cut in options.input if cut.value is not None}
    graph = Graph()
    graph.source_layout = "NHWC"
    tensors: dict[str, list[Output]] = {}
    for node in order:
        inputs = [] if node.name in shapes else [_tensor(tensors, ref) for ref in node.input
                                                 if not ref.startswith("^")]
        model_input = (shapes[node.name], frozen.get(node.name)) if node.name in shapes else None
        with attributed(stage=STAGE, node=NodeRef(node.op, node.name), doing="translating it"):
            produced = _translate_node(graph, node, inputs, model_input, node.name in internal_cuts)
        tensors[node.name] = [produced] if isinstance(produced, Output) else list(produced)
    if sinks:  # every output of a node nothing consumes (IdentityN has several)
        outputs = [name if port == 0 else f"{name}:{port}"
                   for name in outputs for port in range(len(tensors[name]))]
    for name in outputs:
        _add_result(graph, _tensor(tensors, name), name, output_aliases or {})
    return graph


def _translate_node(graph: Graph, node, inputs: list[Output], model_input,
                    is_internal_cut: bool) -> Output | list[Output]:
    """One NodeDef through its handler (or, cut by `--input`, as a model input)."""
    context = TFNodeContext(graph, node, inputs, model_input)
    if is_internal_cut:
        return _internal_input(context)
    return registry.lookup(node.op)(context)


def _internal_input(ctx: TFNodeContext) -> Output:
    """A node named by `--input` that is not a placeholder: a model input of its output's type
    (its `T`, `dtype` or `out_type` attribute) and the shape the user gives it."""
    if ctx.model_input[0] is None:
        raise UserInputError(f"--input {ctx.name}: this node is not a placeholder, so its shape "
                             f"is unknown here; give it, e.g. --input \"{ctx.name}[1 224 224 3]\" "
                             f"or --input_shape")
    type_attr = next((a for a in ("T", "dtype", "out_type") if a in ctx.attrs), None)
    return model_input(ctx, type_attr)


def _needed_nodes(nodes: dict, roots: list[str], cuts: set[str]) -> list:
    """The nodes the roots depend on through data inputs, inputs before consumers.

    A node named by `--input` is a cut: what feeds it is not needed. A TF1 while-loop's back
    edge (NextIteration -> Merge) is a cycle: a node met again while its own inputs are being
    walked is not walked twice (the loop's ops are unsupported and reported as such)."""
    missing = [name for name in roots if name not in nodes]
    if missing:
        raise UserInputError(f"output(s) {', '.join(missing)} name no node of the graph")
    order, done, walking = [], set(), set()
    stack = [(name, False) for name in reversed(roots)]
    while stack:
        name, expanded = stack.pop()
        if name in done:
            continue
        if expanded:
            done.add(name)
            order.append(nodes[name])
            continue
        if name in walking:
            continue
        walking.add(name)
        stack.append((name, True))
        if name in cuts:
            continue
        for ref in reversed(nodes[name].input):
            source = input_node_name(ref)
            if ref.startswith("^"):
                continue
            if source not in nodes:
                raise UserInputError(f"node {name!r} reads {ref!r}, which is not in the graph")
            if source not in done:
                stack.append((source, False))
    return order


def _declared_shape(node) -> tuple[int, ...] | None:
    if "shape" not in node.attr:
        return None
    return shape_of(node.attr["shape"].shape)


def _tensor(tensors: dict[str, list[Output]], ref: str) -> Output:
    name, port = split_tensor_name(ref)
    produced = tensors[name]
    if port >= len(produced) or produced[port] is None:
        raise UserInputError(f"tensor {ref!r} is read, but node {name!r} does not produce it "
                             f"in this converter")
    return produced[port]


def _add_result(graph: Graph, output: Output, name: str, aliases: dict[str, str]) -> None:
    node_name, port = split_tensor_name(name)
    graph.result(output, name)
    names = {f"{node_name}:{port}"} | ({node_name} if port == 0 else set())
    alias = aliases.get(f"{node_name}:{port}")
    if alias:
        names.add(alias)
    output.info.names |= names
