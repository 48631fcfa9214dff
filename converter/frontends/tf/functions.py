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
