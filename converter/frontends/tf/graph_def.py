"""Reading a GraphDef from disk and the graph questions both the loader and freezing ask.

Nothing here imports TensorFlow: `find_sinks` works on TensorFlow's own GraphDef objects
and on ours alike, since both have `.node` with `.name`, `.op` and `.input`.

A binary GraphDef is not parsed whole: protobuf would hold the file's bytes and a parsed copy
of every Const's `tensor_content` at once, and the translator then makes a third copy in numpy.
The file is mapped and walked at the wire level instead (`protowire`): every large
`tensor_content` of a node's tensor attribute (in the graph and in its function library) is
left out, and a `TensorContentSpan` saying where those bytes are in the file is put in the
TensorProto in their place; `tensors.tensor_value` reads them from there into their array
when the translator asks. The weights are in memory once.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from google.protobuf import message, text_format

from ...errors import ModelLoadError
from .. import protowire
from .proto import TENSOR_CONTENT_SPAN_FIELD, messages

# Ops that end a graph without computing an output: bookkeeping of training and saving.
BOOKKEEPING_OPS = frozenset({
    "NoOp", "Assert", "SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice",
    "MergeV2Checkpoints", "Assign", "AssignVariableOp", "AssignAdd", "AssignSub",
    "VarIsInitializedOp", "IsVariableInitialized", "VarHandleOp", "VariableV2", "Variable",
    "Const", "Placeholder", "PlaceholderWithDefault", "ShardedFilename", "StringJoin",
    "Print", "PrintV2",
})
_BOOKKEEPING_SCOPES = ("save/", "save_1/")
_BOOKKEEPING_NAMES = frozenset({"init", "init_all_tables", "init_all_vars_op"})

# Smaller tensor contents stay in the parsed message: a file read per tiny tensor costs more
# than the bytes it would save.
SPLIT_FROM_BYTES = 4096

# The messages the walk descends into, by the field numbers of TensorFlow's graph.proto,
# function.proto, node_def.proto and attr_value.proto: field number -> the message it holds.
_DESCEND = {
    "GraphDef": {1: "NodeDef", 2: "FunctionDefLibrary"},
    "FunctionDefLibrary": {1: "FunctionDef"},
    "FunctionDef": {3: "NodeDef"},
    "NodeDef": {5: "NodeDef.AttrEntry"},
    "NodeDef.AttrEntry": {2: "AttrValue"},
    "AttrValue": {8: "TensorProto"},
}
_TENSOR_CONTENT = 4  # TensorProto.tensor_content


class ContentFile(NamedTuple):
    """A GraphDef file whose tensor contents were left in it, as it was when read."""

    path: Path
    size: int
    mtime_ns: int


# Random token -> file, one small entry per GraphDef read. A span names its file by token, so
# a span written into a file by someone else (an unknown field to protobuf) names no file:
# nothing but the GraphDef files read here can be read through spans.
_CONTENT_FILES: dict[bytes, ContentFile] = {}


def content_file(token: bytes) -> ContentFile | None:
    """The file a TensorContentSpan's `file` token stands for; None if no read made it."""
    return _CONTENT_FILES.get(token)

_REMEDY = ("pass a frozen TensorFlow GraphDef (.pb, or .pbtxt with --input_model_is_text), "
           "a SavedModel folder (--saved_model_dir), or --input_meta_graph with "
           "--input_checkpoint")


def split_tensor_name(name: str) -> tuple[str, int]:
    """`node:1` -> (`node`, 1); `node` -> (`node`, 0)."""
    node, colon, port = name.rpartition(":")
    if colon and port.isdigit():
        return node, int(port)
    return name, 0


def input_node_name(ref: str) -> str:
    """The node an input reference (`x`, `x:1` or the control input `^x`) points at."""
    return split_tensor_name(ref.lstrip("^"))[0]


def post_order(roots: list[str], inputs_of: Callable[[str], list[str] | None],
               on_cycle: Callable[[str], None] | None = None) -> list[str]:
    """The names `roots` reach through `inputs_of`, inputs before consumers (an iterative
    walk: graphs are deeper than Python's recursion limit).

    `inputs_of(name)` gives the names a node reads, or None for a name to leave out (one
    already at hand). A name met again while its own inputs are being walked closes a cycle
    (a TF1 loop's back edge): `on_cycle(name)` may refuse it by raising, else it is not
    walked twice."""
    order: list[str] = []
    done: set[str] = set()
    walking: set[str] = set()
    stack = [(name, False) for name in reversed(roots)]
    while stack:
        name, expanded = stack.pop()
        if name in done:
            continue
        if expanded:
            done.add(name)
            order.append(name)
            continue
        if name in walking:
            if on_cycle is not None:
                on_cycle(name)
            continue
        inputs = inputs_of(name)
        if inputs is None:
            done.add(name)
            continue
        walking.add(name)
        stack.append((name, True))
        stack.extend((source, False) for source in reversed(inputs) if source not in done)
    return order


def find_sinks(nodes: Iterable) -> list[str]:
    """Names of nodes no other node consumes, in graph order, bookkeeping left out."""
    nodes = list(nodes)
    consumed = {input_node_name(ref) for node in nodes for ref in node.input}
    return [node.name for node in nodes
            if node.name not in consumed and node.op not in BOOKKEEPING_OPS
            and node.name not in _BOOKKEEPING_NAMES
            and not node.name.startswith(_BOOKKEEPING_SCOPES)]


def parse_graph_def(data: bytes, is_text: bool, where: str):
    """Our GraphDef message parsed from `data`; ModelLoadError naming `where` otherwise."""
    graph_def = messages().GraphDef()
    try:
        if is_text:
            text_format.Parse(data.decode("utf-8"), graph_def)
        else:
            graph_def.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        kind = "a text" if is_text else "a binary"
        raise ModelLoadError(f"{where}: cannot be read as {kind} TensorFlow GraphDef ({exc}); "
                             f"{_REMEDY}") from None
    if not graph_def.node or any(not node.name or not node.op for node in graph_def.node):
        raise ModelLoadError(f"{where}: not a TensorFlow GraphDef (no well-formed nodes); "
                             f"{_REMEDY}")
    return graph_def


def read_graph_def(path: str | Path, is_text: bool = False):
    """Read a frozen GraphDef file; text format when asked or when it ends in .pbtxt.

    A binary file's large tensor contents stay in the file (see the module's docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file; {_REMEDY}")
    if is_text or path.suffix.lower() in (".pbtxt", ".txt"):
        return parse_graph_def(path.read_bytes(), True, str(path))
    return parse_graph_def(graph_def_bytes_without_contents(path), False, str(path))


def graph_def_bytes_without_contents(path: Path) -> bytes:
    """The GraphDef file's bytes with its large tensor contents replaced by their spans."""
    stat = path.stat()
    token = secrets.token_bytes(16)
    _CONTENT_FILES[token] = ContentFile(path.resolve(), stat.st_size, stat.st_mtime_ns)
    source = messages().TensorContentSpan(file=token)
    try:
        with protowire.mapped_file(path) as buf:
            kept = protowire.rewrite(buf, 0, len(buf), _Splitter(buf, source).visitor("GraphDef"))
            return bytes(buf) if kept is None else kept
    except protowire.WireFormatError as exc:
        raise ModelLoadError(f"{path}: cannot be read as a binary TensorFlow GraphDef ({exc}); "
                             f"{_REMEDY}") from None


class _Splitter:
    """The walk of one mapped GraphDef file, leaving large tensor contents out."""

    def __init__(self, buf: protowire.Buffer, source):
        self.buf = buf
        self.source = source  # a TensorContentSpan naming the file

    def visitor(self, message_name: str):
        """The `protowire.rewrite` callback for the fields of one kind of message."""
        children = _DESCEND[message_name]

        def replace(field: protowire.Field) -> bytes | None:
            child = children.get(field.number)
            if (child is None or field.wire_type != protowire.LENGTH_DELIMITED
                    or field.size < SPLIT_FROM_BYTES):  # too small to hold a large content
                return None
            if child == "TensorProto":
                return self._tensor(field)
            return protowire.rewrite_nested(self.buf, field, self.visitor(child))

        return replace

    def _tensor(self, field: protowire.Field) -> bytes | None:
        """A TensorProto field without its tensor_content, the content's span appended; None
        when the content is small. (The last tensor_content counts, as in protobuf.)"""
        contents = [f for f in protowire.fields(self.buf, field.payload, field.end)
                    if f.number == _TENSOR_CONTENT and f.wire_type == protowire.LENGTH_DELIMITED]
        if not contents or contents[-1].size < SPLIT_FROM_BYTES:
            return None
        dropped = {f.start for f in contents}
        kept = protowire.rewrite(self.buf, field.payload, field.end,
                                 lambda f: b"" if f.start in dropped else None)
        span = messages().TensorContentSpan()
        span.CopyFrom(self.source)
        span.offset, span.length = contents[-1].payload, contents[-1].size
        marker = protowire.length_delimited(TENSOR_CONTENT_SPAN_FIELD, span.SerializeToString())
        return protowire.length_delimited(field.number, kept + marker)
