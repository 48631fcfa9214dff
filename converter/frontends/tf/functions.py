"""A GraphDef's function library: function bodies as plain nodes, and calls inlined.

TF2 graphs (a SavedModel's MetaGraphDef, a graph with While/If loops) keep most of their
computation in `graph_def.library`: FunctionDefs whose nodes read their inputs as
`node:output_arg:index` (the index within the named output argument of the producing op) or
as the bare name of one of the function's own input arguments. The translator and the rest
of the frontend read `node:port` instead. This module turns one into the other.

API (nothing here imports TensorFlow):

- `function_library(graph_def) -> dict[name, FunctionDef]`: the library by function name.
- `function_body(function, library=None, op_defs=None) -> FunctionBody`: a function as a
  GraphDef-style body: `nodes` (NodeDefs reading `node:port`; each input argument becomes a
  `Placeholder` named after it, with its dtype and, when the function records it, its
  shape), `inputs` (those argument names, in order) and `outputs` (`node:port` per output
  argument, in order). `body.graph_def()` wraps the nodes in a GraphDef message.
  `library` resolves the output ports of nested calls (`PartitionedCall:output:1`, or a
  node whose op is a library function); calls inside the body are not inlined here: pass
  `body.graph_def()` to `inline_calls` for that.
- `inline_calls(graph_def, op_defs=None) -> int`: replaces, in place, every
  `PartitionedCall`/`StatefulPartitionedCall` node (and every node whose op is a function of
  the library) by the nodes of its body, recursively, and returns how many calls were
  inlined. A body node `n` of call `c` is renamed `c/n`; the body reads the call's own
  inputs directly; the call node itself becomes an `IdentityN` of the body's outputs, so
  `c:1` and control inputs `^c` keep their meaning (the IdentityN is no op in the IR).
  While/If bodies are left alone: their loops need their own handling.

- `restore_default_attrs(nodes, op_defs) -> int`: adds back the default-valued attributes a
  SavedModel or meta graph was written without (`Shape` without `out_type`).
- `ResourceBinder(graph_def).bind(node, {input: (dtype, shape)})`: a While, If or call node
  that passes variables (resource arguments) to its functions passes their values instead:
  it calls copies of its functions in which those arguments are values and every
  `ReadVariableOp` of one an `Identity` (nested functions too). The caller rewires the
  node's inputs to Consts (`checkpoint.freeze_variables`).
- `prune_library(graph_def) -> int`: drops the functions no node of the graph runs.

`op_defs` (op name -> OpDef, e.g. a SavedModel's `meta_info_def.stripped_op_list`, see
`op_defs_of`) tell which output argument of an op starts at which port; without one, a
built-in table covers the common ops with several output arguments, and any other op is
taken to have one (possibly list-valued) output argument.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ModelLoadError
from .proto import messages

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})

# Output arguments of ops with more than one (each one tensor): op -> argument names in order.
_KNOWN_OUTPUT_ARGS: dict[str, tuple[str, ...]] = {
    "FusedBatchNorm": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"),
    "FusedBatchNormV2": ("y", "batch_mean", "batch_variance", "reserve_space_1",
                         "reserve_space_2"),
    "FusedBatchNormV3": ("y", "batch_mean", "batch_variance", "reserve_space_1",
                         "reserve_space_2", "reserve_space_3"),
    "TopK": ("values", "indices"), "TopKV2": ("values", "indices"),
    "Unique": ("y", "idx"), "UniqueV2": ("y", "idx"),
    "UniqueWithCounts": ("y", "idx", "count"), "ListDiff": ("out", "idx"),
    "Switch": ("output_false", "output_true"), "RefSwitch": ("output_false", "output_true"),
    "Merge": ("output", "value_index"), "RefMerge": ("output", "value_index"),
    "NonMaxSuppressionV4": ("selected_indices", "valid_outputs"),
    "NonMaxSuppressionV5": ("selected_indices", "selected_scores", "valid_outputs"),
    "CombinedNonMaxSuppression": ("nmsed_boxes", "nmsed_scores", "nmsed_classes",
                                  "valid_detections"),
    "MaxPoolWithArgmax": ("output", "argmax"),
    "TensorArrayV3": ("handle", "flow"), "TensorArrayGradV3": ("grad_handle", "flow_out"),
    "TensorArrayConcatV3": ("value", "lengths"),
    "TensorListPopBack": ("output_handle", "tensor"),
    "BroadcastGradientArgs": ("r0", "r1"),
    "QuantizeV2": ("output", "output_min", "output_max"),
    "Svd": ("s", "u", "v"), "Qr": ("q", "r"), "SelfAdjointEigV2": ("e", "v"),
    "LogMatrixDeterminant": ("sign", "log_abs_determinant"),
    "LSTMBlockCell": ("i", "cs", "f", "o", "ci", "co", "h"),
    "BlockLSTM": ("i", "cs", "f", "o", "ci", "co", "h"),
    "BlockLSTMV2": ("i", "cs", "f", "o", "ci", "co", "h"),
    "GRUBlockCell": ("r", "u", "c", "h"),
    "CudnnRNN": ("output", "output_h", "output_c", "reserve_space"),
    "CudnnRNNV2": ("output", "output_h", "output_c", "reserve_space", "host_reserved"),
    "CudnnRNNV3": ("output", "output_h", "output_c", "reserve_space", "host_reserved"),
    "CTCGreedyDecoder": ("decoded_indices", "decoded_values", "decoded_shape",
                         "log_probability"),
}


@dataclass
class FunctionBody:
    """A function's nodes reading `node:port`, its input argument names and output refs."""

    name: str
    inputs: list[str]
    outputs: list[str]
    nodes: list = field(default_factory=list)

    def graph_def(self):
        """The body as a GraphDef message (input arguments as Placeholders)."""
        graph_def = messages().GraphDef()
        graph_def.node.extend(self.nodes)
        return graph_def


def function_library(graph_def) -> dict:
    """`graph_def.library`'s functions by name (empty for a graph without a library)."""
    if not graph_def.HasField("library"):
        return {}
    return {function.signature.name: function for function in graph_def.library.function}


def op_defs_of(op_list) -> dict:
    """An OpList message (a MetaGraphDef's `meta_info_def.stripped_op_list`) by op name."""
    return {op.name: op for op in op_list.op}


def restore_default_attrs(nodes, op_defs: dict) -> int:
    """Give each node the attributes its OpDef declares with a default and the node lacks:
    SavedModels and meta graphs are written with default-valued attributes stripped
    (`Shape` without `out_type`...). Returns how many attributes were added."""
    added = 0
    for node in nodes:
        op_def = op_defs.get(node.op)
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.HasField("default_value") and attr.name not in node.attr:
                node.attr[attr.name].CopyFrom(attr.default_value)
                added += 1
    return added


def function_body(function, library: dict | None = None, op_defs: dict | None = None
                  ) -> FunctionBody:
    """`function` (a FunctionDef) as Placeholders for its arguments plus its nodes, every
    input rewritten from `node:output_arg:index` to `node:port`."""
    ports = _PortResolver(library or {}, op_defs or {})
    signature = function.signature
    arg_names = [arg.name for arg in signature.input_arg]
    shapes = _input_shapes(function, len(arg_names))
    nodes = [_argument_placeholder(arg, shape) for arg, shape in zip(signature.input_arg, shapes)]
    body_nodes = {node.name: node for node in function.node_def}
    local = {name: name for name in arg_names}
    for node in function.node_def:
        copy = messages().NodeDef()
        copy.CopyFrom(node)
        del copy.input[:]
        copy.input.extend(ports.rewrite(ref, body_nodes, local, function.signature.name)
                          for ref in node.input)
        nodes.append(copy)
    outputs = [ports.rewrite(function.ret[arg.name], body_nodes, local, signature.name)
               for arg in signature.output_arg]
    return FunctionBody(signature.name, arg_names, outputs, nodes)


def inline_calls(graph_def, op_defs: dict | None = None) -> int:
    """Inline every function call of `graph_def` (in place); the number of calls inlined."""
    library = function_library(graph_def)
    if not library:
        return 0
    ports = _PortResolver(library, op_defs or {})
    counter = [0]
    expanded = []
    for node in graph_def.node:
        expanded.extend(_expand(node, library, ports, counter, depth=0))
    if counter[0]:
        del graph_def.node[:]
        graph_def.node.extend(expanded)
    return counter[0]


def called_function(node, library: dict) -> str | None:
    """The name of the library function `node` calls, or None when it is no call."""
    if node.op in CALL_OPS:
        return node.attr["f"].func.name
    if node.op in library:
        return node.op
    return None


_MAX_DEPTH = 64


def _expand(node, library: dict, ports: "_PortResolver", counter: list[int], depth: int):
    """`node` itself, or (a call) its body's nodes, expanded in turn, and an IdentityN."""
    name = called_function(node, library)
    if name is None:
        return [node]
    if name not in library:
        raise ModelLoadError(f"{node.op} node {node.name!r} calls function {name!r}, which "
                             f"the graph's function library does not hold")
    if depth > _MAX_DEPTH:
        raise ModelLoadError(f"function calls nested deeper than {_MAX_DEPTH} levels at "
                             f"{node.name!r} (a recursive function?)")
    counter[0] += 1
    function = library[name]
    data_inputs = [ref for ref in node.input if not ref.startswith("^")]
    arguments = _bind_arguments(function, data_inputs, node)
    body_nodes = {n.name: n for n in function.node_def}
    prefix = f"{node.name}/"
    substitutions = _call_attrs(node)
    nodes = []
    for body_node in function.node_def:
        copy = messages().NodeDef()
        copy.CopyFrom(body_node)
        copy.name = prefix + body_node.name
        del copy.input[:]
        copy.input.extend(ports.rewrite(ref, body_nodes, arguments, name, prefix)
                          for ref in body_node.input)
        _fill_attr_placeholders(copy, substitutions)
        nodes.extend(_expand(copy, library, ports, counter, depth + 1))
    nodes.append(_outputs_node(node, function, body_nodes, arguments, ports, prefix))
    return nodes


def _bind_arguments(function, data_inputs: list[str], node) -> dict[str, str]:
    """Each input argument of `function` -> the caller's tensor feeding it."""
    args = list(function.signature.input_arg)
    if len(args) != len(data_inputs):
        raise ModelLoadError(f"{node.op} node {node.name!r} passes {len(data_inputs)} inputs to "
                             f"function {function.signature.name!r}, which takes {len(args)}")
    return {arg.name: ref for arg, ref in zip(args, data_inputs)}


def _outputs_node(call, function, body_nodes: dict, arguments: dict, ports, prefix: str):
    """The IdentityN standing for the call: port k is the body's k-th output."""
    node = messages().NodeDef(name=call.name, op="IdentityN")
    node.input.extend(ports.rewrite(function.ret[arg.name], body_nodes, arguments,
                                    function.signature.name, prefix)
                      for arg in function.signature.output_arg)
    node.input.extend(ref for ref in call.input if ref.startswith("^"))
    if "Tout" in call.attr:
        node.attr["T"].list.type.extend(call.attr["Tout"].list.type)
    else:
        node.attr["T"].list.type.extend(arg.type for arg in function.signature.output_arg)
    if "_output_shapes" in call.attr:
        node.attr["_output_shapes"].CopyFrom(call.attr["_output_shapes"])
    return node


def _call_attrs(node) -> dict:
    """The attributes a call passes to its function (for `placeholder` attributes)."""
    if node.op in CALL_OPS:
        return dict(node.attr["f"].func.attr)
    return dict(node.attr)


def _fill_attr_placeholders(node, substitutions: dict) -> None:
    for key in list(node.attr):
        value = node.attr[key]
        if value.WhichOneof("value") == "placeholder" and value.placeholder in substitutions:
            node.attr[key].CopyFrom(substitutions[value.placeholder])


def _argument_placeholder(arg, shape):
    node = messages().NodeDef(name=arg.name, op="Placeholder")
    node.attr["dtype"].type = arg.type
    if shape is not None:
        node.attr["shape"].shape.CopyFrom(shape)
    return node


def _input_shapes(function, count: int) -> list:
    """The argument shapes a traced function records in its `_input_shapes` attribute."""
    if "_input_shapes" in function.attr:
        shapes = list(function.attr["_input_shapes"].list.shape)
        if len(shapes) == count:
            return shapes
    return [None] * count


class _PortResolver:
    """Turns a FunctionDef input reference into a `node:port` reference."""

    def __init__(self, library: dict, op_defs: dict):
        self.library = library
        self.op_defs = op_defs

    def rewrite(self, ref: str, body_nodes: dict, arguments: dict[str, str], function: str,
                prefix: str = "") -> str:
        """`ref` as read in the body of `function`: arguments map to what feeds them, body
        nodes get `prefix`; control inputs stay control inputs."""
        if ref.startswith("^"):
            name = ref[1:]
            if name in arguments:
                return "^" + arguments[name].lstrip("^").split(":")[0]
            return "^" + prefix + name
        parts = ref.split(":")
        if parts[0] in arguments and parts[0] not in body_nodes:
            if len(parts) > 1 and parts[-1] != "0":
                raise ModelLoadError(f"function {function!r}: {ref!r} reads an element of a "
                                     f"list-valued argument, which is not supported")
            return arguments[parts[0]]
        if parts[0] not in body_nodes:
            raise ModelLoadError(f"function {function!r}: input {ref!r} names no node or "
                                 f"argument of the function")
        if len(parts) == 1:
            return prefix + parts[0]
        if len(parts) == 2:
            return _join(prefix + parts[0], int(parts[1]))
        node_name, arg_name, index = parts[0], parts[1], int(parts[2])
        return _join(prefix + node_name,
                     self.port(body_nodes[node_name], arg_name, index, function))

    def port(self, node, arg_name: str, index: int, function: str) -> int:
        """The output port of `node`'s output argument `arg_name`, element `index`."""
        args = self._output_args(node)
        if args is None:
            return index
        offset = 0
        for name, count in args:
            if name == arg_name:
                return offset + index
            offset += count
        raise ModelLoadError(f"function {function!r}: {node.op} node {node.name!r} has no "
                             f"output argument {arg_name!r}")

    def _output_args(self, node) -> list[tuple[str, int]] | None:
        """(argument name, tensor count) per output argument, or None when unknown."""
        op_def = self.op_defs.get(node.op)
        if op_def is None and node.op in self.library:
            op_def = self.library[node.op].signature
        if op_def is not None:
            return [(arg.name, _arg_count(arg, node)) for arg in op_def.output_arg]
        known = _KNOWN_OUTPUT_ARGS.get(node.op)
        return [(name, 1) for name in known] if known else None


def _arg_count(arg, node) -> int:
    """How many tensors an OpDef argument stands for on `node` (lists take an attribute)."""
    if arg.number_attr:
        return int(node.attr[arg.number_attr].i)
    if arg.type_list_attr:
        return len(node.attr[arg.type_list_attr].list.type)
    return 1


def _join(node: str, port: int) -> str:
    return node if port == 0 else f"{node}:{port}"


# ---------------------------------------------------------------------------- frozen captures

# Ops whose bodies are library functions: op -> (function attributes, index of the first
# input the functions take, attribute listing those inputs' types).
FUNCTION_CALLERS: dict[str, tuple[tuple[str, ...], int, str]] = {
    "While": (("cond", "body"), 0, "T"), "StatelessWhile": (("cond", "body"), 0, "T"),
    "If": (("then_branch", "else_branch"), 1, "Tin"),
    "StatelessIf": (("then_branch", "else_branch"), 1, "Tin"),
    "PartitionedCall": (("f",), 0, "Tin"), "StatefulPartitionedCall": (("f",), 0, "Tin"),
}


class ResourceUseError(ModelLoadError):
    """A frozen variable is used in a function by an op that does more than read it."""


class ResourceBinder:
    """Passes frozen variables into the functions that read them.

    A SavedModel's While and If bodies (a Keras RNN's loop body) take the variables they read
    as `resource` arguments: freezing cannot replace their `ReadVariableOp` by a Const from
    outside. `bind(node, {input index: (dtype, shape)})` makes the caller pass the value
    itself (the caller's inputs are rewired by the caller of `bind`) and points `node` at a
    copy of each of its functions (`NAME__frozen_N`, added to the library) in which those
    arguments hold values: each `ReadVariableOp` of one becomes an `Identity`, each
    `ResourceGather` a `GatherV2`, nested calls, loops and conditions are bound in turn, and
    an argument a loop body hands back unchanged is returned as the value. Any other use (an
    assignment) raises `ResourceUseError`."""

    def __init__(self, graph_def):
        self.graph_def = graph_def
        self.library = function_library(graph_def)
        self._made: dict[tuple, str] = {}

    def bind(self, node, values: dict[int, tuple[int, tuple[int, ...]]]) -> None:
        """Rewrite `node` (in place) to pass values at the given inputs to its functions."""
        if node.op in self.library:  # a node whose op is a library function
            node.op = self._specialize(node.op, values)
            return
        if node.op not in FUNCTION_CALLERS:
            raise ResourceUseError(f"{node.op} node {node.name!r} uses a variable as an "
                                   f"input, which a frozen graph cannot express")
        attrs, first, type_attr = FUNCTION_CALLERS[node.op]
        arguments = {index - first: value for index, value in values.items()}
        if any(index < 0 for index in arguments):
            raise ResourceUseError(f"{node.op} node {node.name!r} takes a variable as its "
                                   f"condition")
        for attr in attrs:
            node.attr[attr].func.name = self._specialize(node.attr[attr].func.name, arguments)
        types = node.attr[type_attr].list.type
        for index, (dtype, _) in arguments.items():
            types[index] = dtype
        if "Tout" in node.attr:  # a call or If returning a variable returns its value now
            returned = self.library[node.attr[attrs[0]].func.name].signature.output_arg
            del node.attr["Tout"].list.type[:]
            node.attr["Tout"].list.type.extend(arg.type for arg in returned)

    def _specialize(self, name: str, arguments: dict[int, tuple[int, tuple[int, ...]]]) -> str:
        """The name of `name`'s copy whose given arguments hold values (made once)."""
        if name not in self.library:
            raise ResourceUseError(f"function {name!r} is not in the graph's library")
        key = (name, tuple(sorted((i, d, tuple(s)) for i, (d, s) in arguments.items())))
        if key in self._made:
            return self._made[key]
        copy = messages().FunctionDef()
        copy.CopyFrom(self.library[name])
        new_name = f"{name}__frozen_{len(self._made)}"
        while new_name in self.library:
            new_name += "_"
        copy.signature.name = new_name
        self._made[key] = new_name  # before the body: a recursive call finds it
        held = {}
        for index, (dtype, shape) in arguments.items():
            argument = copy.signature.input_arg[index]
            argument.type = dtype
            held[argument.name] = (dtype, shape)
            _set_input_shape(copy, index, shape)
        self._rewrite_reads(copy, held)
        self.library[new_name] = copy
        self.graph_def.library.function.add().CopyFrom(copy)
        return new_name

    def _rewrite_reads(self, function, held: dict[str, tuple[int, tuple[int, ...]]]) -> None:
        """Every use of a held argument in `function`'s nodes and results, rewritten."""
        nodes = {node.name: node for node in function.node_def}

        def value_at(ref: str):
            """(dtype, shape) when `ref` is a held argument, directly or through Identity."""
            seen = set()
            while not ref.startswith("^") and ref not in seen:
                seen.add(ref)
                name = ref.split(":")[0]
                if name in held and name not in nodes:
                    return held[name]
                node = nodes.get(name)
                if node is None or node.op != "Identity" or not node.input:
                    return None
                ref = node.input[0]
            return None

        where = function.signature.name
        returned = [value_at(function.ret[arg.name]) for arg in function.signature.output_arg]
        uses = []  # found before any node changes: a read turned Identity is no argument
        for node in function.node_def:
            found = {i: value_at(ref) for i, ref in enumerate(node.input)}
            found = {i: value for i, value in found.items() if value is not None}
            if found:
                uses.append((node, found))
        reads = set()
        for node, found in uses:
            if node.op == "ReadVariableOp":
                node.op = "Identity"
                node.attr["T"].type = node.attr["dtype"].type
                del node.attr["dtype"]
                reads.add(node.name)
            elif node.op == "Identity":
                node.attr["T"].type = found[0][0]
            elif node.op == "ResourceGather" and set(found) == {0}:
                _gather_from_value(function, node)
            else:
                try:
                    self.bind(node, found)
                except ResourceUseError as exc:
                    raise ResourceUseError(f"function {where!r}: {exc}") from None
        for node in function.node_def:
            for index, ref in enumerate(node.input):
                node.input[index] = _read_as_identity(ref, reads)
        for key in list(function.ret):
            function.ret[key] = _read_as_identity(function.ret[key], reads)
        for argument, value in zip(function.signature.output_arg, returned):
            if value is not None:
                argument.type = value[0]


def _read_as_identity(ref: str, reads: set[str]) -> str:
    """`read:value:0` -> `read:output:0` for a ReadVariableOp turned into an Identity."""
    parts = ref.split(":")
    if len(parts) == 3 and parts[0] in reads and parts[1] == "value":
        return f"{parts[0]}:output:{parts[2]}"
    return ref


def _set_input_shape(function, index: int, shape: tuple[int, ...]) -> None:
    """Record the value's shape for argument `index` (a resource argument records [])."""
    if "_input_shapes" not in function.attr:
        return
    shapes = function.attr["_input_shapes"].list.shape
    if index < len(shapes):
        shapes[index].Clear()
        for size in shape:
            shapes[index].dim.add(size=int(size))


def _gather_from_value(function, node) -> None:
    """ResourceGather(resource, indices) in a function body -> GatherV2(value, indices, 0)."""
    axis = function.node_def.add(name=f"{node.name}/axis", op="Const")
    axis.attr["dtype"].type = 3
    axis.attr["value"].tensor.dtype = 3
    axis.attr["value"].tensor.int_val.append(0)
    controls = [ref for ref in node.input if ref.startswith("^")]
    data = [ref for ref in node.input if not ref.startswith("^")]
    del node.input[:]
    node.input.extend([data[0], data[1], f"{axis.name}:output:0"] + controls)
    node.op = "GatherV2"
    node.attr["Tparams"].type = node.attr["dtype"].type
    node.attr["Taxis"].type = 3
    del node.attr["dtype"]


def prune_library(graph_def) -> int:
    """Drop, in place, the library functions no node of the graph reaches (through While,
    If and call nodes, nested); returns how many were dropped."""
    library = function_library(graph_def)
    if not library:
        return 0
    reached, stack = set(), [graph_def.node]
    while stack:
        for node in stack.pop():
            for name in _functions_called(node, library):
                if name not in reached:
                    reached.add(name)
                    stack.append(library[name].node_def)
    kept = [function for name, function in library.items() if name in reached]
    dropped = len(library) - len(kept)
    if dropped:
        copies = []
        for function in kept:
            copy = messages().FunctionDef()
            copy.CopyFrom(function)
            copies.append(copy)
        del graph_def.library.function[:]
        graph_def.library.function.extend(copies)
    return dropped


def _functions_called(node, library: dict) -> list[str]:
    """The library functions `node` calls or runs as a body."""
    names = [node.op] if node.op in library else []
    for value in node.attr.values():
        if value.WhichOneof("value") == "func":
            names.append(value.func.name)
        elif value.WhichOneof("value") == "list":
            names.extend(f.name for f in value.list.func)
    return [name for name in names if name in library]
