"""A SavedModel read and frozen without TensorFlow.

`saved_model.pb` is a `SavedModel` message: one MetaGraphDef per tag set, each with a GraphDef
whose function library holds the model's code, its signatures (input and output tensor names
of the main graph) and, for TF2, the object graph. A TF2 signature's main graph is small:
Placeholders, one `VarHandleOp` per captured variable and a `StatefulPartitionedCall` of the
signature's function, whose trailing inputs are those handles. Freezing it here means:

1. choose the meta graph (`tags`, else the only one, else "serve") and the signature;
2. find each captured handle's variable: the object graph's `concrete_functions[f]`
   `.bound_inputs` lists the objects a call of `f` captures, in order, and the checkpoint's
   own object graph (`_CHECKPOINTABLE_OBJECT_GRAPH`, same node ids) gives each variable's
   checkpoint key; TF1 SavedModels (no object graph) name them in their restore ops,
   with the slice each part of a partitioned variable restores;
3. take the signature function's body as the graph (`functions.function_body`: inputs and
   outputs named as TensorFlow's own freezing names them, `x:0` and `Identity:0`), inline
   the calls in it (`functions.inline_calls`), and replace every read of a
   variable (`ReadVariableOp`, `VariableV2`, `ResourceGather`) by a Const of its value, read
   from `variables/variables.{index,data-*}` (`checkpoint.TensorBundle`);
4. a variable a While or If passes to its functions (a Keras RNN's loop body reads its
   kernels so) is passed as its value instead, the functions' reads becoming Identities
   (`functions.ResourceBinder`); the library keeps only the functions loops and conditions
   still run (`functions.prune_library`);
5. a lookup into the parts of a partitioned variable (`tf.nn.embedding_lookup`'s
   DynamicPartition / Gather per part / ParallelDynamicStitch) becomes one Gather of a
   constant table (`checkpoint.merge_partitioned_lookups`).

What this cannot do (a captured lookup table, a variable a loop body assigns...) raises
`UnsupportedSavedModel`; the frontend then freezes through TensorFlow (`freeze.py`) and says
so in the log.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import message, text_format

from ...errors import ModelLoadError, UserInputError
from .checkpoint import (VARIABLE_OPS, TensorBundle, UnsupportedCheckpoint, freeze_variables,
                         merge_partitioned_lookups, restore_sources, saved_value, source_of)
from .functions import (CALL_OPS, function_body, function_library, inline_calls, op_defs_of,
                        prune_library, restore_default_attrs)
from .graph_def import input_node_name, split_tensor_name
from .proto import messages

DEFAULT_SIGNATURE = "serving_default"
_DT_RESOURCE = 20
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_VARIABLE_VALUE = "VARIABLE_VALUE"
# Ops that read state a frozen graph cannot hold; one left among the needed nodes means the
# reader could not resolve it.
_STATE_OPS = VARIABLE_OPS | {"ReadVariableOp", "ResourceGather", "VarIsInitializedOp",
                             "HashTableV2", "MutableHashTableV2", "LookupTableFindV2",
                             "LookupTableImportV2", "InitializeTableFromTextFileV2"}


class UnsupportedSavedModel(UnsupportedCheckpoint):
    """Something in this SavedModel the reader does not handle (TensorFlow does)."""


@dataclass
class SavedModelGraph:
    """A signature of a SavedModel as a frozen GraphDef message (ours), with its inputs and
    outputs: signature name -> tensor of the frozen graph (`{"output_0": "Identity:0"}`)."""

    graph_def: object
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


def is_saved_model(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file()


def read_saved_model(folder: str | Path, tags=None, signature: str = "serving_default"
                     ) -> SavedModelGraph:
    """Freeze one signature of the SavedModel in `folder` (see the module docstring)."""
    folder = Path(folder)
    meta = select_meta_graph(_read_saved_model_proto(folder), tags, folder)
    sig = meta.signature_def[_signature_name(meta, signature, folder)]
    inputs = {name: info.name for name, info in sig.inputs.items()}
    outputs = {name: info.name for name, info in sig.outputs.items()}
    bundle = _bundle(folder)
    op_defs = op_defs_of(meta.meta_info_def.stripped_op_list)
    call = _signature_call(meta.graph_def, outputs)
    if call is not None:  # TF2: the signature's function is the graph
        graph_def, inputs, outputs, keys = _signature_function(meta, call, inputs, outputs,
                                                               bundle, op_defs, folder)
        sources = {handle: (key, "") for handle, key in keys.items()}
    else:  # TF1: the main graph, variables named (and sliced) by its restore ops
        graph_def = meta.graph_def
        sources = restore_sources({node.name: node for node in graph_def.node})
        _keep_needed(graph_def, [split_tensor_name(t)[0] for t in outputs.values()])
    inline_calls(graph_def, op_defs)
    restore_default_attrs(graph_def.node, op_defs)
    for function in graph_def.library.function:  # bodies of loops and conditions
        restore_default_attrs(function.node_def, op_defs)
    values = {}
    if bundle is not None:
        values = {handle: saved_value(bundle, key, spec, str(folder))
                  for handle, (key, spec) in sources.items() if key in bundle}
    try:
        freeze_variables(graph_def, values, str(folder))
        merge_partitioned_lookups(graph_def, str(folder))
    except UnsupportedCheckpoint as exc:  # a variable a loop body assigns
        if isinstance(exc, UnsupportedSavedModel):
            raise
        raise UnsupportedSavedModel(str(exc)) from None
    prune_library(graph_def)  # the functions left are the bodies of loops and conditions
    _check_stateless(graph_def, [split_tensor_name(t)[0] for t in outputs.values()], str(folder))
    return SavedModelGraph(graph_def, inputs, outputs)


def _signature_call(graph_def, outputs: dict[str, str]):
    """The one call node of the main graph every signature output reads, if there is one."""
    names = {split_tensor_name(tensor)[0] for tensor in outputs.values()}
    if len(names) != 1:
        return None
    (name,) = names
    node = next((n for n in graph_def.node if n.name == name), None)
    if node is None or node.op not in CALL_OPS:
        return None
    return node if node.attr["f"].func.name in function_library(graph_def) else None


def _signature_function(meta, call, inputs: dict, outputs: dict, bundle, op_defs, folder):
    """The signature function's body as the graph, as TensorFlow freezes it: inputs named
    after the function's arguments, outputs its returned tensors (`Identity:0`); its
    captured arguments -> checkpoint keys."""
    library = function_library(meta.graph_def)
    body = function_body(library[call.attr["f"].func.name], library, op_defs)
    data = [ref for ref in call.input if not ref.startswith("^")]
    argument_of = {split_tensor_name(ref)[0]: arg for ref, arg in zip(data, body.inputs)}
    handle_keys = _variable_keys(meta, bundle, folder)
    keys = {arg: handle_keys[split_tensor_name(ref)[0]] for ref, arg in zip(data, body.inputs)
            if split_tensor_name(ref)[0] in handle_keys}
    graph_def = body.graph_def()
    graph_def.library.CopyFrom(meta.graph_def.library)
    _constant_arguments(graph_def, meta.graph_def, zip(data, body.inputs))
    new_inputs = {name: f"{argument_of.get(split_tensor_name(t)[0], split_tensor_name(t)[0])}:0"
                  for name, t in inputs.items()}
    new_outputs = {}
    for name, tensor in outputs.items():
        node, port = split_tensor_name(body.outputs[split_tensor_name(tensor)[1]])
        new_outputs[name] = f"{node}:{port}"
    return graph_def, new_inputs, new_outputs, keys


def _constant_arguments(graph_def, main_graph, fed) -> None:
    """Each argument of the signature function that the main graph feeds from a Const (a
    constant the model captured, such as the mean and variance of a Keras EfficientNet's
    Normalization layer, bound as a `constant` object) becomes that Const in `graph_def`."""
    constants = {node.name: node for node in main_graph.node if node.op == "Const"}
    arguments = {node.name: node for node in graph_def.node if node.op == "Placeholder"}
    for ref, argument in fed:
        source = constants.get(split_tensor_name(ref)[0])
        node = arguments.get(argument)
        if source is None or node is None:
            continue
        node.op = "Const"
        node.ClearField("attr")
        for key in ("dtype", "value"):
            node.attr[key].CopyFrom(source.attr[key])


def _signature_name(meta, wanted: str, folder: Path) -> str:
    """`wanted`; for the default "serving_default", also the only signature there is (a TF1
    builder's export may name its one signature "predict")."""
    known = sorted(k for k in meta.signature_def if not k.startswith("__"))
    if wanted in meta.signature_def:
        return wanted
    if wanted == DEFAULT_SIGNATURE and len(known) == 1:
        return known[0]
    raise UserInputError(f"{folder}: no signature {wanted!r} (signatures: "
                         f"{', '.join(known) or 'none'})")


def _read_saved_model_proto(folder: Path):
    saved = messages().SavedModel()
    binary, text = folder / "saved_model.pb", folder / "saved_model.pbtxt"
    try:
        if binary.is_file():
            saved.ParseFromString(binary.read_bytes())
        elif text.is_file():
            text_format.Parse(text.read_text(), saved)
        else:
            raise ModelLoadError(f"{folder}: not a SavedModel folder (no saved_model.pb); pass "
                                 f"the folder tf.saved_model.save wrote")
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{folder}: saved_model.pb cannot be read ({exc})") from None
    if not saved.meta_graphs:
        raise ModelLoadError(f"{folder}: the SavedModel holds no meta graph")
    return saved


def select_meta_graph(saved, tags, folder: Path):
    """The meta graph with exactly `tags`; without tags the only one, else the "serve" one
    (as the Model Optimizer chose)."""
    metas = list(saved.meta_graphs)
    if not tags:
        if len(metas) == 1:
            return metas[0]
        tags = ["serve"]
    wanted = set(tags)
    for meta in metas:
        if set(meta.meta_info_def.tags) == wanted:
            return meta
    known = "; ".join(",".join(meta.meta_info_def.tags) or "(none)" for meta in metas)
    raise UserInputError(f"{folder}: no meta graph tagged {','.join(sorted(wanted))} "
                         f"(tag sets: {known}); choose one with --saved_model_tags")


def _bundle(folder: Path) -> TensorBundle | None:
    prefix = folder / "variables" / "variables"
    if not Path(f"{prefix}.index").is_file():
        return None  # a SavedModel without variables
    return TensorBundle(prefix)


def _variable_keys(meta, bundle: TensorBundle | None, folder: Path) -> dict[str, str]:
    """Main-graph handle node -> checkpoint key, from the object graph (TF2)."""
    objects = meta.object_graph_def
    if not objects.nodes or bundle is None or _OBJECT_GRAPH_KEY not in bundle:
        return {}
    checkpoint_graph = messages().TrackableObjectGraph()
    checkpoint_graph.ParseFromString(bundle.tensor(_OBJECT_GRAPH_KEY)[0])
    if not _same_object_ids(checkpoint_graph, objects):
        raise UnsupportedSavedModel(f"{folder}: the checkpoint's object graph does not match "
                                    f"the SavedModel's")
    object_keys = {}
    for node_id, node in enumerate(checkpoint_graph.nodes):
        for attribute in node.attributes:
            if attribute.name == _VARIABLE_VALUE:
                object_keys[node_id] = attribute.checkpoint_key
    keys = {}
    for node in meta.graph_def.node:
        if node.op not in CALL_OPS:
            continue
        function = node.attr["f"].func.name
        if function not in objects.concrete_functions:
            continue
        bound = list(objects.concrete_functions[function].bound_inputs)
        data = [ref for ref in node.input if not ref.startswith("^")]
        if not bound or len(bound) > len(data):
            continue
        for ref, object_id in zip(data[len(data) - len(bound):], bound):
            if object_id in object_keys:
                keys[input_node_name(ref)] = object_keys[object_id]
    return keys


def _same_object_ids(checkpoint_graph, objects) -> bool:
    """Whether the checkpoint's objects have the ids the SavedModel's object graph gives them.
    The SavedModel's graph may hold more nodes after the checkpoint's (`captured_tensor`
    nodes: tensors its saved functions capture, such as those of Keras' swish gradient in
    an EfficientNet), so the counts alone do not tell; each checkpoint node must have its children under the same
    names and ids as the SavedModel node of its id."""
    if len(checkpoint_graph.nodes) > len(objects.nodes):
        return False
    for ours, theirs in zip(checkpoint_graph.nodes, objects.nodes):
        children = {(child.local_name, child.node_id) for child in theirs.children}
        if not {(child.local_name, child.node_id) for child in ours.children} <= children:
            return False
    return True


def _keep_needed(graph_def, roots: list[str]) -> None:
    """Drop, in place, the nodes the roots do not depend on (through data inputs), such as
    the save and restore functions and the other signatures."""
    needed = {node.name for node in _needed({n.name: n for n in graph_def.node}, roots)}
    kept = [node for node in graph_def.node if node.name in needed]
    for node in kept:  # control inputs to dropped nodes would dangle
        data = [ref for ref in node.input if not ref.startswith("^")
                or input_node_name(ref) in needed]
        if len(data) != len(node.input):
            del node.input[:]
            node.input.extend(data)
    if len(kept) != len(graph_def.node):
        copies = []
        for node in kept:
            copy = messages().NodeDef()
            copy.CopyFrom(node)
            copies.append(copy)
        del graph_def.node[:]
        graph_def.node.extend(copies)


def _needed(nodes: dict, roots: list[str]) -> list:
    """The nodes the roots depend on through data inputs."""
    needed, stack = {}, [name for name in roots if name in nodes]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed[name] = nodes[name]
        stack.extend(input_node_name(ref) for ref in nodes[name].input
                     if not ref.startswith("^") and input_node_name(ref) in nodes)
    return list(needed.values())


def _check_stateless(graph_def, roots: list[str], where: str) -> None:
    """No variable or table left unresolved among the nodes the outputs need."""
    nodes = {node.name: node for node in graph_def.node}
    needed = _needed(nodes, roots)
    left = sorted({node.op for node in needed if node.op in _STATE_OPS})
    resource_inputs = sorted({node.name for node in needed
                              for ref in node.input if not ref.startswith("^")
                              and source_of(ref, nodes)[0] in nodes
                              and _is_state(nodes[source_of(ref, nodes)[0]])})
    if left or resource_inputs:
        detail = ", ".join(left) or f"variables passed to {', '.join(resource_inputs[:5])}"
        raise UnsupportedSavedModel(f"{where}: state the reader cannot freeze ({detail})")


def _is_state(node) -> bool:
    """A variable, or a resource argument of the signature function left unresolved."""
    return node.op in VARIABLE_OPS or (node.op == "Placeholder"
                                       and node.attr["dtype"].type == _DT_RESOURCE)
