"""Reading a GraphDef from disk and the graph questions both the loader and freezing ask.

Nothing here imports TensorFlow: `find_sinks` works on TensorFlow's own GraphDef objects
and on ours alike, since both have `.node` with `.name`, `.op` and `.input`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from google.protobuf import message, text_format

from ...errors import ModelLoadError
from .proto import messages

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
    """Read a frozen GraphDef file; text format when asked or when it ends in .pbtxt."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file; {_REMEDY}")
    is_text = is_text or path.suffix.lower() in (".pbtxt", ".txt")
    return parse_graph_def(path.read_bytes(), is_text, str(path))
