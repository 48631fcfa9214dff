"""TensorFlow references: frozen and text GraphDefs, checkpoints, SavedModels.

Graphs run in a `tf.compat.v1.Session`, loaded once and reused for every run. Tensors are named
as TensorFlow names them (`node:port`, with `node` as an alias of port 0), except SavedModel
signatures, whose inputs and outputs are named by their signature keys.
"""
from __future__ import annotations

import re

from .errors import VerifierUnavailable
from .references import feeds_by_name, first_line, import_runtime, round_to_fp16
from .source import SourceModel, TensorInfo

# Ops that end a graph without computing a result: saving, restoring, initialising, checks,
# and the leaves nobody reads (a spare constant or placeholder is not an output).
_MACHINERY_OPS = frozenset({
    "NoOp", "Assert", "Print", "PrintV2", "SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore",
    "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "Assign",
    "AssignVariableOp", "AssignAdd", "AssignSub", "VarIsInitializedOp", "IsVariableInitialized",
    "VarHandleOp", "VariableV2", "Variable", "Const", "Placeholder", "PlaceholderWithDefault",
})
_MACHINERY_NAMES = re.compile(r"^(save(_\d+)?/|init(_all_tables|_all_vars_op)?$)")


def open_tf_reference(source: SourceModel):
    if source.kind in ("frozen", "text"):
        return FrozenGraphReference(source)
    if source.kind == "checkpoint":
        return CheckpointReference(source)
    if source.kind == "saved_model":
        from ._saved_model_reference import SavedModelReference

        return SavedModelReference(source)
    raise VerifierUnavailable(f"{source.path}: no reference runner for a {source.kind!r} model "
                              f"(kinds: onnx, frozen, text, saved_model, checkpoint)")


def tensor_name(name: str) -> str:
    """`node` -> `node:0`; `node:1` stays."""
    return name if re.fullmatch(r".+:\d+", name) else f"{name}:0"


def numpy_dtype_name(tf, dtype) -> str:
    import numpy as np

    return np.dtype(tf.as_dtype(dtype).base_dtype.as_numpy_dtype).name


def shape_of(shape) -> tuple[int | None, ...] | None:
    """A TensorShape (or TensorShapeProto wrapper) as a tuple; None when the rank is unknown."""
    return None if shape.rank is None else tuple(shape.as_list())


def rounded_graph_def(tf, graph_def):
    """A copy of `graph_def` whose float Const nodes (in its functions too) hold fp16-rounded
    values."""
    copy = type(graph_def)()
    copy.CopyFrom(graph_def)
    node_lists = [copy.node, *(function.node_def for function in copy.library.function)]
    for nodes in node_lists:
        for node in nodes:
            if node.op == "Const" and "dtype" in node.attr \
                    and tf.as_dtype(node.attr["dtype"].type).is_floating:
                value = round_to_fp16(tf.make_ndarray(node.attr["value"].tensor))
                node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    return copy


class GraphSessionReference:
    """A tf.Graph in a session, fed and read by tensor name. Outputs: `source.outputs`, else
    the graph's sinks. Inputs: the placeholders the outputs depend on, and the nodes named by
    `source.inputs`, which are fed in place of what computes them."""

    runtime = "tensorflow"

    def __init__(self, source: SourceModel, tf, graph, session, detail: str):
        self.source, self._graph, self._session = source, graph, session
        self.version, self.detail = tf.__version__, detail
        names = [tensor_name(name) for name in source.outputs] or _sinks(tf, graph)
        if not names:
            raise VerifierUnavailable(f"{source.path}: the graph has no outputs; name them "
                                      f"with --output")
        self.outputs = [self._info(tf, name, "--output") for name in names]
        self.inputs = [self._info(tf, name, "--input") for name in self._input_names()]
        self._extra_feeds: dict = {}

    def run(self, feeds: dict) -> dict:
        feeds = feeds_by_name(self.inputs, feeds, self.source.path)
        names = [info.name for info in self.outputs]
        tf = import_runtime("tensorflow", self.source)
        try:
            values = self._session.run(names, {**self._extra_feeds, **feeds})
        except (tf.errors.OpError, ValueError, TypeError) as exc:
            raise VerifierUnavailable(f"{self.source.path}: TensorFlow failed to run the "
                                      f"model: {first_line(exc)}") from None
        return dict(zip(names, values))

    def _info(self, tf, name: str, flag: str) -> TensorInfo:
        try:
            tensor = self._graph.get_tensor_by_name(name)
        except (KeyError, ValueError):
            raise VerifierUnavailable(f"{self.source.path}: {flag} {name} names no tensor of the "
                                      f"graph") from None
        node, port = name.rsplit(":", 1)
        return TensorInfo(name, numpy_dtype_name(tf, tensor.dtype), shape_of(tensor.shape),
                          frozenset({node} if port == "0" else ()))

    def _input_names(self) -> list[str]:
        """`source.inputs` as tensors, then the placeholders found walking back from the
        outputs (through data and control inputs: a session runs both) to those cuts."""
        cuts = [tensor_name(name) for name in self.source.inputs]
        cut_nodes = {name.rsplit(":", 1)[0] for name in cuts}
        stack = [self._graph.get_tensor_by_name(info.name).op for info in self.outputs]
        seen, placeholders = set(), set()
        while stack:
            op = stack.pop()
            if op.name in seen or op.name in cut_nodes:
                continue
            seen.add(op.name)
            if op.type == "Placeholder":
                placeholders.add(op.name)
                continue
            stack.extend(tensor.op for tensor in op.inputs)
            stack.extend(op.control_inputs)
        found = [f"{op.name}:0" for op in self._graph.get_operations() if op.name in placeholders]
        return cuts + found

    def round_weights(self, tf, feed_constants: bool) -> None:
        self._extra_feeds = round_session_weights(tf, self._graph, self._session, feed_constants)


def round_session_weights(tf, graph, session, feed_constants: bool) -> dict:
    """Assign fp16-rounded values to every float variable of the session's graph; return the
    feeds that replace every float Const by its fp16-rounded value when `feed_constants`
    (TensorFlow can feed any tensor, and a graph TensorFlow loads itself cannot be edited)."""
    with graph.as_default():
        variables = [variable for variable in tf.compat.v1.global_variables()
                     if variable.dtype.base_dtype.is_floating]
        for variable, value in zip(variables, session.run(variables)):
            # what Variable.load does, without its deprecation warning: rerun the initializer
            # with the value it assigns fed
            initializer = variable.initializer
            session.run(initializer, {initializer.inputs[1]: round_to_fp16(value)})
    if not feed_constants:
        return {}
    constants = [op.outputs[0] for op in graph.get_operations()
                 if op.type == "Const" and op.outputs[0].dtype.is_floating]
    return {tensor: round_to_fp16(value)
            for tensor, value in zip(constants, session.run(constants))}


def _sinks(tf, graph) -> list[str]:
    """Every data output of the nodes nothing consumes, in graph order, machinery left out."""
    consumed = set()
    for op in graph.get_operations():
        consumed.update(tensor.op.name for tensor in op.inputs)
        consumed.update(control.name for control in op.control_inputs)
    return [tensor.name for op in graph.get_operations()
            if op.name not in consumed and op.type not in _MACHINERY_OPS
            and not _MACHINERY_NAMES.match(op.name)
            for tensor in op.outputs if _is_data(tf, tensor)]


def _is_data(tf, tensor) -> bool:
    """Not a resource handle, variant or reference (a variable's own output)."""
    dtype = tensor.dtype
    return dtype not in (tf.resource, tf.variant) and dtype == dtype.base_dtype


class FrozenGraphReference(GraphSessionReference):
    """A frozen GraphDef, binary (.pb) or text (.pbtxt)."""

    def __init__(self, source: SourceModel, fp16_weights: bool = False):
        tf = import_runtime("tensorflow", source)
        graph_def = _read_graph_def(tf, source)
        if fp16_weights:
            graph_def = rounded_graph_def(tf, graph_def)
        with tf.Graph().as_default() as graph:
            try:
                tf.compat.v1.import_graph_def(graph_def, name="")
            except (ValueError, TypeError, tf.errors.OpError) as exc:
                raise VerifierUnavailable(f"{source.path}: TensorFlow cannot import this graph "
                                          f"({first_line(exc)})") from None
        kind = "text" if source.kind == "text" else "binary"
        super().__init__(source, tf, graph, tf.compat.v1.Session(graph=graph),
                         f"{kind} GraphDef of {len(graph_def.node)} nodes in a v1 session")

    def with_fp16_weights(self) -> "FrozenGraphReference":
        return FrozenGraphReference(self.source, fp16_weights=True)


def _read_graph_def(tf, source: SourceModel):
    from google.protobuf import text_format

    graph_def = tf.compat.v1.GraphDef()
    try:
        data = source.path.read_bytes()
        if source.kind == "text":
            text_format.Parse(data.decode("utf-8"), graph_def)
        else:
            graph_def.ParseFromString(data)
    except Exception as exc:  # noqa: BLE001 - OSError, DecodeError, ParseError, UnicodeError
        raise VerifierUnavailable(f"{source.path}: cannot be read as a {source.kind} TensorFlow "
                                  f"GraphDef ({first_line(exc)}); check the file and its "
                                  f"kind") from None
    return graph_def


class CheckpointReference(GraphSessionReference):
    """A checkpoint restored into the graph of its .meta file."""

    def __init__(self, source: SourceModel, fp16_weights: bool = False):
        tf = import_runtime("tensorflow", source)
        prefix = source.checkpoint or source.path.with_suffix("")
        meta_graph = tf.compat.v1.MetaGraphDef()
        with tf.Graph().as_default() as graph:
            session = tf.compat.v1.Session(graph=graph)
            try:
                meta_graph.ParseFromString(source.path.read_bytes())
                if fp16_weights:
                    meta_graph.graph_def.CopyFrom(rounded_graph_def(tf, meta_graph.graph_def))
                saver = tf.compat.v1.train.import_meta_graph(meta_graph, clear_devices=True)
                if saver is not None:  # None: the graph has no variables to restore
                    saver.restore(session, str(prefix))
            except Exception as exc:  # noqa: BLE001 - OSError, DecodeError, OpError, ValueError
                raise VerifierUnavailable(f"{source.path}: cannot restore checkpoint {prefix} "
                                          f"into this meta graph ({first_line(exc)}); check "
                                          f"both files are complete") from None
        super().__init__(source, tf, graph, session,
                         f"meta graph with checkpoint {prefix.name} restored in a v1 session")
        if fp16_weights:
            self.round_weights(tf, feed_constants=False)  # its graph's Consts are rounded already

    def with_fp16_weights(self) -> "CheckpointReference":
        return CheckpointReference(self.source, fp16_weights=True)
