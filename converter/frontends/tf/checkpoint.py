"""TensorFlow checkpoints read without TensorFlow: the tensor bundle, and TF1 checkpoints.

A checkpoint (a SavedModel's `variables/variables`, or `model.ckpt`) is a *tensor bundle*:
`PREFIX.index`, a LevelDB-format table (an SSTable: sorted key/value blocks, an index block and
a 48-byte footer) mapping each tensor name to a `BundleEntryProto` (dtype, shape, shard,
offset, size), the empty key to a `BundleHeaderProto`; and `PREFIX.data-SSSSS-of-NNNNN`, the
shards of raw little-endian tensor bytes. `TensorBundle` reads the table with our runtime-built
protobuf classes (`proto.py`) and returns tensors as numpy views of the memory-mapped shards,
so nothing is copied until a value is used.

`freeze_checkpoint_graph(meta_graph, prefix, outputs)` is the TF1 path: the `.meta` file's
MetaGraphDef plus the bundle give a frozen GraphDef (each variable replaced by a Const of its
saved value), as `freeze.freeze_checkpoint` does through TensorFlow. Variables are matched to
their checkpoint keys through the graph's own restore ops (`save/RestoreV2` and its Assigns),
else by their node name.
"""
from __future__ import annotations

import mmap
import struct
from pathlib import Path

import numpy as np

from ...errors import ModelLoadError
from .functions import (FUNCTION_CALLERS, ResourceBinder, ResourceUseError, function_library,
                        inline_calls, op_defs_of, prune_library, restore_default_attrs)
from .graph_def import find_sinks, split_tensor_name
from .proto import messages
from .tensors import NUMPY_TYPES, numpy_type

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER = 5  # compression type byte + masked crc32c
_NO_COMPRESSION, _SNAPPY = 0, 1
_DT_STRING = 7


class UnsupportedCheckpoint(ModelLoadError):
    """A checkpoint or graph this reader cannot handle (TensorFlow can: the caller falls back)."""


# ---------------------------------------------------------------------------- the table


def _varint(data, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def snappy_decompress(data: bytes) -> bytes:
    """Snappy's raw format (what LevelDB tables may compress blocks with): a varint length,
    then literals and back-references (copies of 1, 2 or 4 offset bytes)."""
    length, pos = _varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal; lengths above 60 follow in 1-4 bytes
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            size += 1
            out += data[pos:pos + size]
            pos += size
            continue
        if kind == 1:
            size = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        else:
            width = 2 if kind == 2 else 4
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + width], "little")
            pos += width
        if offset == 0 or offset > len(out):
            raise ModelLoadError("corrupt snappy block in a checkpoint index")
        start = len(out) - offset
        for i in range(size):  # byte by byte: a copy may overlap what it writes
            out.append(out[start + i])
    if len(out) != length:
        raise ModelLoadError("corrupt snappy block in a checkpoint index (length mismatch)")
    return bytes(out)


def _block(data: bytes, offset: int, size: int, where: str) -> bytes:
    if offset + size + _BLOCK_TRAILER > len(data):
        raise ModelLoadError(f"{where}: truncated table block")
    contents = data[offset:offset + size]
    kind = data[offset + size]
    if kind == _SNAPPY:
        return snappy_decompress(contents)
    if kind != _NO_COMPRESSION:
        raise UnsupportedCheckpoint(f"{where}: table block compressed with type {kind}")
    return contents


def _block_entries(block: bytes):
    """The (key, value) pairs of one table block, keys rebuilt from their shared prefixes."""
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_size, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + value_size]
        pos += value_size


def read_table(path: str | Path) -> dict[bytes, bytes]:
    """Every key/value pair of a LevelDB-format table file (TensorFlow's .index files)."""
    data = Path(path).read_bytes()
    where = str(path)
    if len(data) < _FOOTER_SIZE:
        raise ModelLoadError(f"{where}: too short to be a checkpoint index")
    footer = data[-_FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_SIZE - 8)
    if magic != _TABLE_MAGIC:
        raise ModelLoadError(f"{where}: not a checkpoint index (bad table magic)")
    _, pos = _varint(footer, 0)  # metaindex handle: offset, size (unused)
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    table = {}
    for _, handle in _block_entries(_block(data, index_offset, index_size, where)):
        offset, at = _varint(handle, 0)
        size, _ = _varint(handle, at)
        table.update(_block_entries(_block(data, offset, size, where)))
    return table


# ---------------------------------------------------------------------------- the bundle


class TensorBundle:
    """A checkpoint's tensors by name: `bundle.keys()`, `bundle.tensor(name)` (a numpy view of
    the memory-mapped data; strings come as a list of bytes), `name in bundle`."""

    def __init__(self, prefix: str | Path):
        self.prefix = str(prefix)
        index = Path(self.prefix + ".index")
        if not index.is_file():
            raise ModelLoadError(f"{self.prefix}: no checkpoint here ({index.name} is missing)")
        table = read_table(index)
        header = messages().BundleHeaderProto()
        header.ParseFromString(table.pop(b"", b""))
        if header.endianness != 0:
            raise UnsupportedCheckpoint(f"{index}: a big-endian checkpoint")
        self.num_shards = max(int(header.num_shards), 1)
        self._entries = {}
        for key, value in table.items():
            entry = messages().BundleEntryProto()
            entry.ParseFromString(value)
            self._entries[key.decode("utf-8")] = entry
        self._shards: dict[int, mmap.mmap] = {}

    def keys(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def entry(self, name: str):
        return self._entries[name]

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(d.size) for d in self._entries[name].shape.dim)

    def tensor(self, name: str):
        """The saved value of tensor `name`."""
        if name not in self._entries:
            raise ModelLoadError(f"{self.prefix}: the checkpoint holds no tensor {name!r}")
        entry = self._entries[name]
        if entry.slices:
            raise UnsupportedCheckpoint(f"{self.prefix}: {name!r} is saved in slices "
                                        f"(a partitioned variable)")
        shape = self.shape(name)
        data = self._shard(int(entry.shard_id))
        offset, size = int(entry.offset), int(entry.size)
        if offset + size > len(data):
            raise ModelLoadError(f"{self.prefix}: {name!r} lies past the end of its data file")
        if entry.dtype == _DT_STRING:
            return _strings(data, offset, int(np.prod(shape, dtype=np.int64)))
        dtype = numpy_type(entry.dtype, f"checkpoint tensor {name!r}").newbyteorder("<")
        count = int(np.prod(shape, dtype=np.int64))
        if count * dtype.itemsize != size:
            raise ModelLoadError(f"{self.prefix}: {name!r} holds {size} bytes for shape "
                                 f"{list(shape)} of {dtype}")
        return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)

    def _shard(self, shard: int):
        if shard not in self._shards:
            path = Path(f"{self.prefix}.data-{shard:05d}-of-{self.num_shards:05d}")
            if not path.is_file():
                raise ModelLoadError(f"{self.prefix}: data file {path.name} is missing")
            with path.open("rb") as handle:
                if path.stat().st_size == 0:
                    self._shards[shard] = b""
                else:
                    self._shards[shard] = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return self._shards[shard]


def _strings(data, offset: int, count: int) -> list[bytes]:
    """A string tensor: each element's varint length, a 4-byte checksum, then the bytes."""
    lengths, pos = [], offset
    for _ in range(count):
        length, pos = _varint(data, pos)
        lengths.append(length)
    pos += 4
    values = []
    for length in lengths:
        values.append(bytes(data[pos:pos + length]))
        pos += length
    return values


# ---------------------------------------------------------------------------- freezing


VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})
_ASSIGN_OPS = frozenset({"Assign", "AssignVariableOp"})
_PASS_THROUGH = frozenset({"Identity", "IdentityN", "Snapshot"})


def const_node(name: str, value: np.ndarray, dtype: int):
    """A Const NodeDef holding `value` (its bytes as `tensor_content`)."""
    node = messages().NodeDef(name=name, op="Const")
    node.attr["dtype"].type = dtype
    tensor = node.attr["value"].tensor
    tensor.dtype = dtype
    for size in value.shape:
        tensor.tensor_shape.dim.add(size=int(size))
    tensor.tensor_content = np.ascontiguousarray(value).tobytes()
    return node


def source_of(ref: str, nodes: dict) -> tuple[str, int]:
    """The (node, port) a reference resolves to once pass-through ops are looked through."""
    name, port = split_tensor_name(ref.lstrip("^"))
    while name in nodes and nodes[name].op in _PASS_THROUGH:
        node = nodes[name]
        data = [r for r in node.input if not r.startswith("^")]
        if node.op == "IdentityN":
            if port >= len(data):
                break
            name, port = split_tensor_name(data[port])
        elif data:
            name, port = split_tensor_name(data[0])
        else:
            break
    return name, port


def keys_from_restore_ops(nodes: dict) -> dict[str, str]:
    """Variable node -> checkpoint key, as the graph's own restore ops assign them: each
    Assign/AssignVariableOp whose value is output k of a RestoreV2 takes `tensor_names[k]`."""
    keys = {}
    for node in nodes.values():
        if node.op not in _ASSIGN_OPS or len(node.input) < 2:
            continue
        variable, _ = source_of(node.input[0], nodes)
        restore, port = source_of(node.input[1], nodes)
        if restore not in nodes or nodes[restore].op not in ("RestoreV2", "Restore"):
            continue
        names_ref, _ = source_of(nodes[restore].input[1], nodes)
        names_node = nodes.get(names_ref)
        if names_node is None or names_node.op != "Const":
            continue
        names = list(names_node.attr["value"].tensor.string_val)
        if port < len(names):
            keys[variable] = names[port].decode("utf-8")
    return keys


def freeze_variables(graph_def, values: dict[str, np.ndarray], where: str) -> int:
    """Replace, in place, each variable (VariableV2) and each read of a resource variable
    (ReadVariableOp, ResourceGather) whose variable has a value in `values` by constants.
    Returns how many nodes were replaced."""
    nodes = {node.name: node for node in graph_def.node}
    replaced = 0
    extra = []
    for index, node in enumerate(graph_def.node):
        if node.op in ("VariableV2", "Variable") and node.name in values:
            graph_def.node[index].CopyFrom(_value_const(node.name, values[node.name],
                                                        node.attr["dtype"].type))
            replaced += 1
        elif node.op == "ReadVariableOp":
            handle, _ = source_of(node.input[0], nodes)
            if handle in values:
                graph_def.node[index].CopyFrom(_value_const(node.name, values[handle],
                                                            node.attr["dtype"].type))
                replaced += 1
        elif node.op == "ResourceGather":
            handle, _ = source_of(node.input[0], nodes)
            if handle in values:
                extra.append(_value_const(f"{node.name}/params", values[handle],
                                          node.attr["dtype"].type))
                extra.append(_gather_axis(node.name))
                _as_gather(graph_def.node[index])
                replaced += 1
    graph_def.node.extend(extra)
    return replaced + _pass_values_to_functions(graph_def, nodes, values, where)


def _pass_values_to_functions(graph_def, nodes: dict, values: dict, where: str) -> int:
    """Each While, If or call node given a frozen resource variable is given a Const of its
    value instead, and its functions read that value (`functions.ResourceBinder`): a Keras
    RNN's loop body reads its kernels so. Returns how many nodes were rewired."""
    library = function_library(graph_def)
    if not library:
        return 0
    binder = ResourceBinder(graph_def)
    consts: dict[str, str] = {}
    rewired = 0
    for node in list(graph_def.node):
        if node.op not in FUNCTION_CALLERS and node.op not in library:
            continue
        found = {}
        for index, ref in enumerate(node.input):
            handle = source_of(ref, nodes)[0] if not ref.startswith("^") else None
            if handle not in values or nodes[handle].op not in _RESOURCE_SOURCES \
                    or not isinstance(values[handle], np.ndarray):
                continue
            value = values[handle]
            if handle not in consts:
                consts[handle] = _unused_name(f"{handle}/frozen_value", nodes)
                constant = const_node(consts[handle], value, _tf_dtype(value, handle, where))
                graph_def.node.append(constant)
                nodes[constant.name] = constant
            node.input[index] = consts[handle]
            found[index] = (_tf_dtype(value, handle, where), tuple(value.shape))
        if found:
            try:
                binder.bind(node, found)
            except ResourceUseError as exc:
                raise UnsupportedCheckpoint(f"{where}: state the reader cannot freeze "
                                            f"({exc})") from None
            rewired += 1
    return rewired


_RESOURCE_SOURCES = frozenset({"VarHandleOp", "Placeholder"})
_TF_DTYPES = {np.dtype(value): key for key, value in NUMPY_TYPES.items()}


def _tf_dtype(value: np.ndarray, name: str, where: str) -> int:
    if value.dtype.newbyteorder("=") not in _TF_DTYPES:
        raise UnsupportedCheckpoint(f"{where}: variable {name!r} holds {value.dtype} values")
    return _TF_DTYPES[value.dtype.newbyteorder("=")]


def _unused_name(base: str, nodes: dict) -> str:
    name, count = base, 1
    while name in nodes:
        name, count = f"{base}_{count}", count + 1
    return name


def _value_const(name: str, value: np.ndarray, dtype: int):
    return const_node(name, value, dtype)


def _gather_axis(name: str):
    node = messages().NodeDef(name=f"{name}/axis", op="Const")
    node.attr["dtype"].type = 3
    node.attr["value"].tensor.dtype = 3
    node.attr["value"].tensor.int_val.append(0)
    return node


def _as_gather(node) -> None:
    """ResourceGather(resource, indices) -> GatherV2(params, indices, axis 0)."""
    indices = node.input[1]
    controls = [ref for ref in node.input if ref.startswith("^")]
    del node.input[:]
    node.input.extend([f"{node.name}/params", indices, f"{node.name}/axis"] + controls)
    node.op = "GatherV2"
    node.attr["Tparams"].type = node.attr["dtype"].type
    node.attr["Taxis"].type = 3
    del node.attr["dtype"]


def read_meta_graph(path: str | Path):
    """A `.meta` file (a MetaGraphDef), binary or text."""
    from google.protobuf import message, text_format

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such meta graph file (the .meta written by "
                             f"tf.compat.v1.train.Saver)")
    meta = messages().MetaGraphDef()
    data = path.read_bytes()
    try:
        if path.suffix in (".pbtxt", ".metatxt"):
            text_format.Parse(data.decode("utf-8"), meta)
        else:
            meta.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: cannot be read as a MetaGraphDef ({exc})") from None
    if not meta.graph_def.node:
        raise ModelLoadError(f"{path}: the meta graph holds no graph")
    return meta


def checkpoint_prefix(path: str | Path) -> str:
    """`model.ckpt`, `model.ckpt.index` or a folder with one `checkpoint` file -> the prefix."""
    path = Path(path)
    if path.is_dir():
        state = path / "checkpoint"
        if state.is_file():
            for line in state.read_text(errors="replace").splitlines():
                if line.startswith("model_checkpoint_path:"):
                    name = line.split(":", 1)[1].strip().strip('"')
                    return str(path / name) if not Path(name).is_absolute() else name
        indexes = sorted(path.glob("*.index"))
        if len(indexes) == 1:
            return str(indexes[0])[:-len(".index")]
        raise ModelLoadError(f"{path}: give the checkpoint prefix (such as model.ckpt)")
    text = str(path)
    for suffix in (".index", ".meta"):
        if text.endswith(suffix):
            return text[:-len(suffix)]
    if ".data-" in path.name:
        return text[:text.rindex(".data-")]
    return text


def freeze_checkpoint_graph(meta_graph: str | Path, prefix: str | Path,
                            outputs: list[str] | None = None):
    """A TF1 checkpoint frozen without TensorFlow: (GraphDef, inputs, outputs) as the
    TensorFlow path's FrozenGraph has them (placeholder -> tensor, name -> tensor)."""
    meta = read_meta_graph(meta_graph)
    bundle = TensorBundle(checkpoint_prefix(prefix))
    graph_def = meta.graph_def
    op_defs = op_defs_of(meta.meta_info_def.stripped_op_list)
    inline_calls(graph_def, op_defs)
    restore_default_attrs(graph_def.node, op_defs)
    for function in graph_def.library.function:
        restore_default_attrs(function.node_def, op_defs)
    nodes = {node.name: node for node in graph_def.node}
    names = list(outputs) if outputs else find_sinks(graph_def.node)
    keys = keys_from_restore_ops(nodes)
    values = {}
    for node in graph_def.node:
        if node.op in VARIABLE_OPS:
            key = keys.get(node.name, node.name)
            if key in bundle:
                values[node.name] = bundle.tensor(key)
    _check_needed_variables(graph_def, nodes, names, values, str(meta_graph))
    freeze_variables(graph_def, values, str(meta_graph))
    prune_library(graph_def)
    placeholders = {node.name: f"{node.name}:0" for node in graph_def.node
                    if node.op == "Placeholder"}
    tensors = {name: name if ":" in name else f"{name}:0" for name in names}
    return graph_def, placeholders, tensors


def _check_needed_variables(graph_def, nodes: dict, outputs: list[str], values: dict,
                            where: str) -> None:
    """Every variable the outputs depend on must have a saved value."""
    from .graph_def import input_node_name

    seen, stack = set(), [split_tensor_name(o)[0] for o in outputs]
    missing = []
    while stack:
        name = stack.pop()
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        node = nodes[name]
        if node.op in VARIABLE_OPS and name not in values:
            missing.append(name)
        stack.extend(input_node_name(ref) for ref in node.input if not ref.startswith("^"))
    if missing:
        raise UnsupportedCheckpoint(f"{where}: no saved value for variable(s) "
                                    f"{', '.join(sorted(missing)[:10])}")
