"""TensorFlow checkpoints read without TensorFlow: the tensor bundle, and TF1 checkpoints.

A checkpoint (a SavedModel's `variables/variables`, or `model.ckpt`) is a *tensor bundle*:
`PREFIX.index`, a LevelDB-format table (an SSTable: sorted key/value blocks, an index block and
a 48-byte footer) mapping each tensor name to a `BundleEntryProto` (dtype, shape, shard,
offset, size), the empty key to a `BundleHeaderProto`; and `PREFIX.data-SSSSS-of-NNNNN`, the
shards of raw little-endian tensor bytes. `TensorBundle` reads the table with our runtime-built
protobuf classes (`proto.py`) and returns tensors as numpy views of the memory-mapped shards,
so nothing is copied until a value is used. A partitioned variable is saved as one entry
listing its slices (`TensorSliceProto`s) plus one entry per slice, keyed by the name and the
slice in OrderedCode (`slice_key`); `tensor(name)` assembles them, `tensor_slice` reads one.

`freeze_checkpoint_graph(meta_graph, prefix, outputs)` is the TF1 path: the `.meta` file's
MetaGraphDef plus the bundle give a frozen GraphDef (each variable replaced by a Const of its
saved value), as `freeze.freeze_checkpoint` does through TensorFlow. Variables are matched to
their checkpoint keys through the graph's own restore ops (`save/RestoreV2` and its Assigns),
else by their node name; a partition variable (`emb/part_1`) gets the slice its restore op
names. A lookup over the parts of a partitioned variable becomes one Gather of a constant
table (`merge_partitioned_lookups`).
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
from .tensors import NUMPY_TYPES, numpy_type, tensor_value

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
        self._slice_entries = {}  # the parts of partitioned variables, by their encoded key
        for key, value in table.items():
            entry = messages().BundleEntryProto()
            entry.ParseFromString(value)
            if key.startswith(_SLICE_KEY_MARK):
                self._slice_entries[key] = entry
            else:
                self._entries[key.decode("utf-8")] = entry
        self._shards: dict[int, mmap.mmap] = {}

    def keys(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def slice_keys(self) -> list[bytes]:
        """The keys of the saved slices of partitioned variables (see `slice_key`)."""
        return list(self._slice_entries)

    def entry(self, name: str):
        return self._entries[name]

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(d.size) for d in self._entries[name].shape.dim)

    def tensor(self, name: str):
        """The saved value of tensor `name`; a partitioned variable's slices assembled."""
        if name not in self._entries:
            raise ModelLoadError(f"{self.prefix}: the checkpoint holds no tensor {name!r}")
        entry = self._entries[name]
        if entry.slices:
            return self._assembled(name, entry)
        return self._read(name, entry, self.shape(name))

    def tensor_slice(self, name: str, extents: list[tuple[int, int | None]]):
        """The part `extents` ((start, length) per dimension, length None for the whole
        dimension) of tensor `name`: one saved slice read alone when the checkpoint holds
        exactly that slice (what a partition variable `.../part_k` restores), else cut
        from the whole tensor."""
        if name in self._entries and self._entries[name].slices:
            entry = self._slice_entries.get(slice_key(name, extents))
            if entry is not None:
                return self._read(name, entry, _slice_shape(extents, self.shape(name)))
        return self.tensor(name)[_index(extents)]

    def _assembled(self, name: str, entry):
        """A variable saved in slices (a partitioned variable), its parts put in place."""
        shape = self.shape(name)
        if entry.dtype == _DT_STRING:
            raise UnsupportedCheckpoint(f"{self.prefix}: {name!r} is a string tensor saved "
                                        f"in slices")
        dtype = numpy_type(entry.dtype, f"checkpoint tensor {name!r}")
        whole = np.empty(shape, dtype)
        filled = 0
        for extents in (slice_extents(data, len(shape)) for data in entry.slices):
            key = slice_key(name, extents)
            if key not in self._slice_entries:
                raise ModelLoadError(f"{self.prefix}: slice {extents} of partitioned variable "
                                     f"{name!r} is listed but not saved")
            part = self._read(name, self._slice_entries[key], _slice_shape(extents, shape))
            whole[_index(extents)] = part
            filled += part.size
        if filled != whole.size:
            raise ModelLoadError(f"{self.prefix}: the saved slices of {name!r} cover {filled} "
                                 f"of its {whole.size} values")
        return whole

    def _read(self, name: str, entry, shape: tuple[int, ...]):
        """The bytes `entry` points at, as an array of `shape` (a view of the shard)."""
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


# ---------------------------------------------------------------------------- slices

# A slice's key in the bundle starts with OrderedCode's encoding of the number 0 (one zero
# byte); a tensor name never does.
_SLICE_KEY_MARK = b"\x00"
# OrderedCode's string escapes (so that 0x00 0x01 can end a string).
_ESCAPED = {0x00: b"\x00\xff", 0xFF: b"\xff\x00"}


def slice_extents(data: bytes, rank: int) -> list[tuple[int, int | None]]:
    """A serialized TensorSliceProto as (start, length) per dimension, length None where
    the slice takes the whole dimension (an extent without length, or none given)."""
    proto = messages().TensorSliceProto()
    proto.ParseFromString(data)
    extents: list[tuple[int, int | None]] = [(0, None)] * rank
    for axis, extent in enumerate(proto.extent[:rank]):
        if extent.HasField("length"):
            extents[axis] = (int(extent.start), int(extent.length))
    return extents


def _slice_shape(extents, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(size if length is None else length
                 for (_, length), size in zip(extents, shape))


def _index(extents) -> tuple[slice, ...]:
    """The numpy index of a slice given as (start, length or None) per dimension."""
    return tuple(slice(None) if length is None else slice(start, start + length)
                 for start, length in extents)


def slice_key(name: str, extents: list[tuple[int, int | None]]) -> bytes:
    """The bundle key of one saved slice of tensor `name`, as TensorFlow's
    `EncodeTensorNameSlice` writes it in OrderedCode: the number 0, the name (0x00 and 0xff
    bytes escaped, ended by 0x00 0x01), the number of dimensions, then each dimension's
    start and length as signed numbers (a whole dimension as start 0, length -1)."""
    key = bytearray(_ordered_number(0))
    for byte in name.encode("utf-8"):
        key += _ESCAPED.get(byte, bytes([byte]))
    key += b"\x00\x01"
    key += _ordered_number(len(extents))
    for start, length in extents:
        start, length = (0, -1) if length is None else (start, length)
        key += _ordered_signed_number(start) + _ordered_signed_number(length)
    return bytes(key)


def _ordered_number(value: int) -> bytes:
    """OrderedCode's non-negative number: its byte count, then its big-endian bytes."""
    size = (value.bit_length() + 7) // 8
    return bytes([size]) + value.to_bytes(size, "big")


def _ordered_signed_number(value: int) -> bytes:
    """OrderedCode's signed number: n bytes of two's complement whose first n bits, a
    header, are flipped (n = 1 + bits of the magnitude // 7, so the value fits in 7n - 1
    bits), so that encodings sort as the numbers do."""
    magnitude = ~value if value < 0 else value
    length = magnitude.bit_length() // 7 + 1
    encoded = bytearray((value & ((1 << (8 * length)) - 1)).to_bytes(length, "big"))
    header = ((1 << length) - 1) << (16 - length)  # the top `length` bits of two bytes
    encoded[0] ^= header >> 8
    if length > 1:
        encoded[1] ^= header & 0xFF
    return bytes(encoded)


def parse_slice_spec(spec: str, where: str):
    """A save op's `shape_and_slices` entry ("10 7 0,3:-": the full shape, then start,length
    per dimension, `-` for a whole one) as (full shape, extents as `slice_extents` gives
    them); None for "" (the whole tensor)."""
    if not spec.strip():
        return None
    try:
        *dims, slices = spec.split()
        shape = tuple(int(d) for d in dims)
        extents: list[tuple[int, int | None]] = []
        for part in slices.split(":"):
            if part == "-":
                extents.append((0, None))
            else:
                start, length = part.split(",")
                extents.append((int(start), int(length)))
        if len(extents) != len(shape):
            raise ValueError(spec)
    except ValueError:
        raise ModelLoadError(f"{where}: malformed slice spec {spec!r} in the restore "
                             f"op") from None
    return shape, extents


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


def restore_sources(nodes: dict) -> dict[str, tuple[str, str]]:
    """Variable node -> (checkpoint key, slice spec), as the graph's own restore ops assign
    them: each Assign/AssignVariableOp whose value is output k of a RestoreV2 takes
    `tensor_names[k]` and `shape_and_slices[k]` ("" for a whole tensor, "10 7 3,3:0,7" for
    the part of a partitioned variable that a `.../part_1` variable holds)."""
    sources = {}
    for node in nodes.values():
        if node.op not in _ASSIGN_OPS or len(node.input) < 2:
            continue
        variable, _ = source_of(node.input[0], nodes)
        restore, port = source_of(node.input[1], nodes)
        if restore not in nodes or nodes[restore].op not in ("RestoreV2", "Restore"):
            continue
        names = _const_strings(nodes[restore], 1, nodes)
        specs = _const_strings(nodes[restore], 2, nodes) if nodes[restore].op == "RestoreV2" \
            else []
        if port < len(names):
            spec = specs[port] if port < len(specs) else ""
            sources[variable] = (names[port], spec)
    return sources


def _const_strings(node, index: int, nodes: dict) -> list[str]:
    """The strings of the Const feeding input `index` of `node` ([] if it is not one)."""
    if index >= len(node.input):
        return []
    source = nodes.get(source_of(node.input[index], nodes)[0])
    if source is None or source.op != "Const":
        return []
    return [value.decode("utf-8") for value in source.attr["value"].tensor.string_val]


def saved_value(bundle: TensorBundle, key: str, spec: str, where: str):
    """What a restore op reads for `key` with slice spec `spec` (see `restore_sources`)."""
    parsed = parse_slice_spec(spec, where)
    if parsed is None:
        return bundle.tensor(key)
    shape, extents = parsed
    if shape != bundle.shape(key):
        raise ModelLoadError(f"{where}: the graph restores {key!r} as part of a {list(shape)} "
                             f"tensor, the checkpoint holds {list(bundle.shape(key))}")
    return bundle.tensor_slice(key, extents)


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


# ------------------------------------------------------- lookups into partitioned variables

_STITCH_OPS = frozenset({"ParallelDynamicStitch", "DynamicStitch"})
# What routes an id to its partition and row in `tf.nn.embedding_lookup` ("mod" and "div"
# strategies), evaluated by `_evaluate_routing`.
_ROUTING_OPS = {
    "FloorDiv": np.floor_divide, "FloorMod": np.mod, "Sub": np.subtract, "AddV2": np.add,
    "Add": np.add, "Mul": np.multiply, "Maximum": np.maximum, "Minimum": np.minimum,
    "Less": np.less, "LessEqual": np.less_equal, "Greater": np.greater,
    "GreaterEqual": np.greater_equal, "Equal": np.equal, "Select": np.where,
    "SelectV2": np.where,
}


def merge_partitioned_lookups(graph_def, where: str) -> int:
    """Each lookup into a partitioned table (what `tf.nn.embedding_lookup` builds over the
    parts of a partitioned variable: DynamicPartition routes every id to a part and a row,
    one Gather per part, ParallelDynamicStitch puts the rows back in order) becomes one
    GatherV2 of the flat ids into a constant table, once the parts are constants (frozen
    variables). The routing depends on the id alone, so the table's row i is the row that
    id i reads: the routing ops are evaluated for every id. Returns how many were merged."""
    nodes = {node.name: node for node in graph_def.node}
    merged = 0
    for node in list(graph_def.node):
        if node.op not in _STITCH_OPS:
            continue
        lookup = _partitioned_lookup(node, nodes)
        if lookup is None:
            continue
        flat_ids, assignments, rows, parts, index_type = lookup
        table = _lookup_table(flat_ids, assignments, rows, parts, nodes,
                              f"{where}: lookup {node.name!r}")
        _as_table_gather(graph_def, nodes, node, flat_ids, table, index_type)
        merged += 1
    return merged


def _partitioned_lookup(stitch, nodes: dict):
    """(flat ids ref, assignments ref, row ids ref, parts, index type) when `stitch`
    stitches one Gather per constant part, as `tf.nn.embedding_lookup` does; else None."""
    count = int(stitch.attr["N"].i)
    refs = [ref for ref in stitch.input if not ref.startswith("^")]
    if count < 1 or len(refs) != 2 * count:
        return None
    positions = _partition_outputs(refs[:count], nodes)
    gathers = [nodes.get(source_of(ref, nodes)[0]) for ref in refs[count:]]
    if positions is None or any(g is None or g.op != "GatherV2" for g in gathers):
        return None
    rows = _partition_outputs([g.input[1] for g in gathers], nodes)
    if rows is None or rows[1] != positions[1]:
        return None
    flat_ids = _range_over(positions[0], nodes)
    parts = [_const(g.input[0], nodes) for g in gathers]
    axes = [_const(g.input[2], nodes) for g in gathers]
    if flat_ids is None or any(p is None or p.ndim == 0 for p in parts) \
            or any(a is None or int(a) != 0 for a in axes) \
            or len({p.shape[1:] for p in parts}) != 1:
        return None
    return flat_ids, positions[1], rows[0], parts, int(gathers[0].attr["Tindices"].type)


def _partition_outputs(refs: list[str], nodes: dict):
    """(data ref, partitions ref) when `refs` are outputs 0..n-1 of one DynamicPartition."""
    sources = [source_of(ref, nodes) for ref in refs]
    names = {name for name, _ in sources}
    if len(names) != 1 or [port for _, port in sources] != list(range(len(refs))):
        return None
    node = nodes.get(names.pop())
    if node is None or node.op != "DynamicPartition" or len(node.input) < 2:
        return None
    return node.input[0], node.input[1]


def _range_over(ref: str, nodes: dict) -> str | None:
    """The ref `x` when `ref` is Range(0, Size(x), 1), the positions of the flat ids."""
    node = nodes.get(source_of(ref, nodes)[0])
    if node is None or node.op != "Range" or len(node.input) < 3:
        return None
    start, delta = _const(node.input[0], nodes), _const(node.input[2], nodes)
    size = nodes.get(source_of(node.input[1], nodes)[0])
    if start is None or delta is None or int(start) != 0 or int(delta) != 1 \
            or size is None or size.op != "Size":
        return None
    return size.input[0]


def _const(ref: str, nodes: dict):
    node = nodes.get(source_of(ref, nodes)[0])
    if node is None or node.op != "Const":
        return None
    return tensor_value(node.attr["value"].tensor, node.name)


def _lookup_table(flat_ids: str, assignments: str, rows: str, parts: list, nodes: dict,
                  where: str):
    """The table whose row i is what id i reads (the parts' rows, reordered)."""
    sizes = [part.shape[0] for part in parts]
    count = sum(sizes)
    ids = np.arange(count, dtype=np.int64)
    part = np.asarray(_evaluate_routing(assignments, flat_ids, ids, nodes, where))
    row = np.asarray(_evaluate_routing(rows, flat_ids, ids, nodes, where))
    if part.shape != ids.shape or row.shape != ids.shape:
        raise UnsupportedCheckpoint(f"{where}: its routing does not give one part per id")
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    valid = (part >= 0) & (part < len(parts))
    valid &= (row >= 0) & (row < np.asarray(sizes, np.int64)[np.where(valid, part, 0)])
    if not valid.all():
        raise UnsupportedCheckpoint(f"{where}: its routing sends ids outside the "
                                    f"{len(parts)} parts")
    order = offsets[part] + row
    table = np.concatenate(parts)
    # "div" routes ids to the parts in order: the table is the parts as they are
    return table if np.array_equal(order, ids) else table[order]


def _evaluate_routing(ref: str, flat_ids: str, ids: np.ndarray, nodes: dict, where: str,
                      memo: dict | None = None):
    """The value of `ref` when the flat ids are `ids`: constants and elementwise integer
    ops (`_ROUTING_OPS`, Cast) only; anything else cannot be evaluated here."""
    memo = {} if memo is None else memo
    if ref in memo:
        return memo[ref]
    name, port = source_of(ref, nodes)
    if (name, port) == source_of(flat_ids, nodes):
        return ids
    node = nodes.get(name)
    if node is None:
        raise UnsupportedCheckpoint(f"{where}: its routing reads missing node {name!r}")
    if node.op == "Const":
        value = tensor_value(node.attr["value"].tensor, node.name)
    elif node.op == "Cast":
        source = _evaluate_routing(node.input[0], flat_ids, ids, nodes, where, memo)
        value = np.asarray(source).astype(numpy_type(node.attr["DstT"].type, node.name))
    elif node.op in _ROUTING_OPS:
        args = [_evaluate_routing(r, flat_ids, ids, nodes, where, memo)
                for r in node.input if not r.startswith("^")]
        value = _ROUTING_OPS[node.op](*args)
    else:
        raise UnsupportedCheckpoint(f"{where}: its routing uses {node.op} node {name!r}")
    memo[ref] = value
    return value


def _as_table_gather(graph_def, nodes: dict, stitch, flat_ids: str, table: np.ndarray,
                     index_type: int) -> None:
    """Rewrite `stitch`, in place, as GatherV2(table, flat ids, 0), keeping its name."""
    dtype = int(stitch.attr["T"].type)
    table_node = const_node(_unused_name(f"{stitch.name}/merged_table", nodes), table, dtype)
    axis_node = const_node(_unused_name(f"{stitch.name}/merged_axis", nodes),
                           np.zeros((), np.int32), 3)
    for node in (table_node, axis_node):
        graph_def.node.append(node)
        nodes[node.name] = node
    controls = [ref for ref in stitch.input if ref.startswith("^")]
    stitch.op = "GatherV2"
    del stitch.input[:]
    stitch.input.extend([table_node.name, flat_ids, axis_node.name] + controls)
    stitch.ClearField("attr")
    stitch.attr["Tparams"].type = dtype
    stitch.attr["Tindices"].type = index_type
    stitch.attr["Taxis"].type = 3


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
    names = list(outputs) if outputs else _output_sinks(graph_def, nodes)
    sources = restore_sources(nodes)
    values = {}
    for node in graph_def.node:
        if node.op in VARIABLE_OPS:
            key, spec = sources.get(node.name, (node.name, ""))
            if key in bundle:
                values[node.name] = saved_value(bundle, key, spec, str(meta_graph))
    _check_needed_variables(graph_def, nodes, names, values, str(meta_graph))
    freeze_variables(graph_def, values, str(meta_graph))
    merge_partitioned_lookups(graph_def, str(meta_graph))
    prune_library(graph_def)
    placeholders = {node.name: f"{node.name}:0" for node in graph_def.node
                    if node.op == "Placeholder"}
    tensors = {name: name if ":" in name else f"{name}:0" for name in names}
    return graph_def, placeholders, tensors


def _output_sinks(graph_def, nodes: dict) -> list[str]:
    """The graph's sinks, less the reads of a variable nothing consumes (each part of a
    partitioned variable has its own `part_k/Read/ReadVariableOp`, while the model reads the
    parts through the ops that concatenate or gather them)."""
    sinks = find_sinks(graph_def.node)
    outputs = [name for name in sinks if not _reads_a_variable(nodes[name], nodes)]
    return outputs or sinks


def _reads_a_variable(node, nodes: dict) -> bool:
    if node.op not in ("ReadVariableOp", "Identity") or not node.input:
        return False
    source = nodes.get(source_of(node.input[0], nodes)[0])
    return source is not None and source.op in VARIABLE_OPS


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
