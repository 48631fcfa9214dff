"""GraphDef -> Graph: find the outputs, walk back to what they need, translate node by node
(while loops known at conversion time unrolled, see `control_flow`)."""
from __future__ import annotations

from ...errors import NodeRef, UserInputError, attributed
from ...graph import Graph, Output
from ...options import ConversionOptions
from ..common import input_overrides
from .context import TFNodeContext
from .control_flow import DEAD, FUNCTIONAL_OPS, LOOP_OPS, Scope, Translator, find_frames
from .functions import CALL_OPS, function_library
from .graph_def import BOOKKEEPING_OPS, find_sinks, input_node_name, post_order, split_tensor_name
from .handlers import registry
from .input_names import resolve_input_names
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
    options = resolve_input_names(nodes, options)  # `name:0` and `0:name` as node names
    sinks = not options.output
    outputs = list(options.output) or _model_sinks(nodes, find_sinks(graph_def.node))
    if not outputs:
        raise UserInputError("the graph has no outputs to convert; name them with --output")
    # a frozen input is a cut too (a PlaceholderWithDefault is otherwise not an input)
    cuts = {cut.name for cut in options.input} | set(options.frozen_inputs())
    order = _needed_nodes(nodes, [split_tensor_name(o)[0] for o in outputs], cuts)
    # `--input` may name any node: what feeds it is dropped and it becomes a model input
    # (as mo's --input=map/TensorArrayStack/TensorArrayGatherV3 for resnet-50-tf).
    internal_cuts = {node.name for node in order if node.name in cuts and node.op not in _INPUT_OPS}
    checked = order + _function_nodes(graph_def, order)
    registry.check_supported([(node.op, node.name, 1) for node in checked
                              if node.name not in internal_cuts and node.op not in LOOP_OPS
                              and node.op not in FUNCTIONAL_OPS])
    model_inputs = [node for node in order if node.op == "Placeholder" or node.name in cuts]
    shapes = input_overrides([(node.name, _declared_shape(node)) for node in model_inputs], options)
    frozen = options.frozen_inputs()  # --input name->[values], --freeze_placeholder_with_value
    graph = Graph()
    graph.source_layout = "NHWC"

    def translate_node(node, inputs: list, name: str):
        # a node of the graph itself (not of a function body) may be a model input
        top_level = nodes.get(node.name) is node
        model_input = (shapes[node.name], frozen.get(node.name)) \
            if top_level and node.name in shapes else None
        with attributed(stage=STAGE, node=NodeRef(node.op, node.name), doing="translating it"):
            return _translate_node(graph, node, inputs, model_input,
                                   top_level and node.name in internal_cuts, name)

    translator = Translator(nodes, translate_node, leaves=frozenset(shapes),
                            library=function_library(graph_def), graph=graph)
    scope = Scope()
    translator.run(outputs, scope)
    if sinks:  # every output of a node nothing consumes (IdentityN has several)
        outputs = [name if port == 0 else f"{name}:{port}"
                   for name in outputs for port in range(_output_count(scope.find(name)))]
    for name in outputs:
        _add_result(graph, _live(scope.tensor(name), name), name, output_aliases or {})
    return graph


def _function_nodes(graph_def, order: list) -> list:
    """The nodes of the library's functions, when a While or If of the graph calls them."""
    if not any(node.op in FUNCTIONAL_OPS for node in order):
        return []
    return [node for function in function_library(graph_def).values()
            for node in function.node_def
            if node.op not in BOOKKEEPING_OPS and node.op not in CALL_OPS]


def _model_sinks(nodes: dict, sinks: list[str]) -> list[str]:
    """The sinks that are outputs of the model. A frozen graph keeps nodes that only control
    edges used to consume: inside a while loop's body (never a model output), and reads of
    constants and loop variables left at a loop's Exit (not outputs when some other sink does
    depend on the model's inputs)."""
    frames = find_frames(nodes)
    if not frames:  # no loop: one memoized walk, not one walk of the whole graph per sink
        reads_input = _reads_an_input(nodes)
        kinds = {name: "computed" if reads_input(name) else "constant" for name in sinks}
        return [name for name in sinks if kinds[name] == "computed"] or sinks
    body = {node.name for frame in frames.values()
            for node in [*frame.merges, *frame.switch.values()]}
    kinds = {name: _sink_kind(nodes, frames, body, name) for name in sinks}
    kept = [name for name in sinks if kinds[name] != "loop body"]
    computed = [name for name in kept if kinds[name] == "computed" and name not in frames]
    return computed or kept


def _reads_an_input(nodes: dict):
    """A test of whether a node of a loop-free graph depends on a model input (data edges
    only), each node's answer computed once."""
    known: dict[str, bool] = {}

    def reads(name: str) -> bool:
        stack = [name]
        while stack:
            current = stack[-1]
            if current in known:
                stack.pop()
                continue
            node = nodes[current]
            sources = [input_node_name(ref) for ref in node.input if not ref.startswith("^")]
            sources = [source for source in sources if source in nodes]
            pending = [source for source in sources if source not in known]
            if pending:
                stack.extend(pending)
                continue
            known[current] = node.op in _INPUT_OPS or any(known[source] for source in sources)
            stack.pop()
        return known[name]

    return reads


def _sink_kind(nodes: dict, frames: dict, body: set[str], name: str) -> str:
    """"loop body" (reads a loop's Switch or Merge), "computed" (reads a placeholder) or
    "constant"; a loop's Exit is crossed to what the loop reads from outside."""
    seen, stack, kind = {name}, [name], "constant"
    while stack:
        node = nodes[stack.pop()]
        if node.name in body:
            return "loop body"
        if node.op in _INPUT_OPS:
            kind = "computed"
        refs = frames[node.name].outer_inputs() if node.name in frames else node.input
        for ref in refs:
            source = input_node_name(ref)
            if not ref.startswith("^") and source not in seen and source in nodes:
                seen.add(source)
                stack.append(source)
    return kind


def _translate_node(graph: Graph, node, inputs: list[Output], model_input,
                    is_internal_cut: bool, name: str) -> Output | list[Output]:
    """One NodeDef through its handler (or, cut by `--input`, as a model input). `name` names
    what it makes: the node's own name, with the iteration for a node of an unrolled loop."""
    context = TFNodeContext(graph, node, inputs, model_input)
    context.name = name
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
    walked is not walked twice. This walk finds what must be supported and the model's inputs;
    `control_flow.Translator` orders the translation itself, loop by loop."""
    missing = [name for name in roots if name not in nodes]
    if missing:
        raise UserInputError(f"output(s) {', '.join(missing)} name no node of the graph")

    def data_inputs(name: str) -> list[str]:
        if name in cuts:
            return []
        sources = []
        for ref in nodes[name].input:
            if ref.startswith("^"):
                continue
            if input_node_name(ref) not in nodes:
                raise UserInputError(f"node {name!r} reads {ref!r}, which is not in the graph")
            sources.append(input_node_name(ref))
        return sources
    return [nodes[name] for name in post_order(roots, data_inputs)]


def _declared_shape(node) -> tuple[int, ...] | None:
    if "shape" not in node.attr:
        return None
    return shape_of(node.attr["shape"].shape)


def _output_count(produced) -> int:
    return 1 if produced is DEAD else len(produced)


def _live(value, name: str) -> Output:
    """An output of the model: a tensor computed on every run."""
    if value is DEAD:
        raise UserInputError(f"output {name!r} is only computed on a branch the graph never "
                             f"takes (its tf.cond predicate is constant)")
    if not isinstance(value, Output):
        raise UserInputError(f"output {name!r} is a {type(value).__name__}, not a tensor")
    return value


def _add_result(graph: Graph, output: Output, name: str, aliases: dict[str, str]) -> None:
    node_name, port = split_tensor_name(name)
    graph.result(output, name)
    names = {f"{node_name}:{port}"} | ({node_name} if port == 0 else set())
    alias = aliases.get(f"{node_name}:{port}")
    if alias:
        names.add(alias)
    output.info.names |= names
