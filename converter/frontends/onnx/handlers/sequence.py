"""Sequences: SequenceEmpty, SequenceConstruct, SequenceAt, SequenceInsert, SequenceErase,
SequenceLength, SplitToSequence, ConcatFromSequence and SequenceMap.

OpenVINO IR has no sequence type: a sequence lives in the frontend as a static tuple of tensors
(`SequenceValue`), so every position and length must be known at conversion time; the ops
that read a sequence's tensors then work on those tensors directly (SequenceAt is the tensor,
ConcatFromSequence a Concat, SequenceMap its body inlined once per position).
"""
from __future__ import annotations

import numpy as np
import onnx

from ....graph import Output
from ..model import element_type
from ..subgraphs import ControlFlowContext
from ..values import SequenceValue
from ._util import i64
from . import registry


def sequence_input(ctx: ControlFlowContext, index: int) -> SequenceValue:
    value = ctx.input(index)
    if not isinstance(value, SequenceValue):
        raise ctx.error(f"its input {index} must be a sequence")
    return value


def position(ctx: ControlFlowContext, index: int, length: int, default: int,
             inserting: bool = False) -> int:
    """Input `index` as a position in a sequence of `length` (negative counts from the end);
    `default` without it. Inserting may also aim one past the end."""
    if not ctx.has_input(index):
        return default
    value = ctx.required_value(index, "position")
    if value.size != 1:
        raise ctx.error(f"its position has {value.size} elements, not 1")
    where = int(value.reshape(-1)[0])
    limit = length + 1 if inserting else length
    if not -length <= where < limit:
        raise ctx.error(f"position {where} is out of range for a sequence of {length} tensor(s)")
    return where + length if where < 0 else where


@registry.register("SequenceEmpty")
def sequence_empty(ctx: ControlFlowContext) -> SequenceValue:
    dtype = ctx.attr("dtype", onnx.TensorProto.FLOAT)
    return SequenceValue((), element_type(dtype, f"the dtype of node {ctx.name!r}"))


@registry.register("SequenceConstruct")
def sequence_construct(ctx: ControlFlowContext) -> SequenceValue:
    items = [ctx.input(i) for i in range(len(ctx.inputs))]
    if not items:
        raise ctx.error("has no inputs; SequenceConstruct needs at least one tensor")
    return SequenceValue(tuple(items), items[0].element_type)


@registry.register("SequenceAt")
def sequence_at(ctx: ControlFlowContext) -> Output:
    sequence = sequence_input(ctx, 0)
    if not ctx.has_input(1):
        raise ctx.error("lacks its position input")
    return sequence.items[position(ctx, 1, len(sequence), 0)]


@registry.register("SequenceInsert")
def sequence_insert(ctx: ControlFlowContext) -> SequenceValue:
    sequence = sequence_input(ctx, 0)
    where = position(ctx, 2, len(sequence), len(sequence), inserting=True)
    items = list(sequence.items)
    items.insert(where, ctx.input(1))
    return sequence.with_items(items)


@registry.register("SequenceErase")
def sequence_erase(ctx: ControlFlowContext) -> SequenceValue:
    sequence = sequence_input(ctx, 0)
    if not len(sequence):
        raise ctx.error("erases from an empty sequence")
    where = position(ctx, 1, len(sequence), len(sequence) - 1)
    return sequence.with_items(item for i, item in enumerate(sequence.items) if i != where)


@registry.register("SequenceLength")
def sequence_length(ctx: ControlFlowContext) -> Output:
    return ctx.const(np.array(len(sequence_input(ctx, 0)), np.int64))


@registry.register("SplitToSequence")
def split_to_sequence(ctx: ControlFlowContext) -> SequenceValue:
    data = ctx.input(0)
    rank = data.rank
    if rank is None:
        raise ctx.error("the rank of its input must be known")
    axis = ctx.axis(ctx.attr("axis", 0), rank)
    if not ctx.has_input(1):
        parts = split_in_ones(ctx, data, axis)
        if not ctx.attr("keepdims", 1):
            parts = [ctx.helper("Squeeze", p, i64(ctx, [axis]), suffix=f"squeeze_{i}")
                     for i, p in enumerate(parts)]
        return SequenceValue(tuple(parts), data.element_type)
    split = ctx.input(1)
    if split.rank == 0:
        lengths = i64(ctx, chunk_lengths(ctx, data, axis, ctx.required_value(1, "split size")))
    elif split.rank == 1 and split.shape[0] != -1:
        lengths = split
    else:
        raise ctx.error("the number of parts (the length of its split input) must be static")
    count = lengths.shape[0]
    node = ctx.graph.add("VariadicSplit", [data, ctx.const(np.array(axis, np.int64)), lengths],
                         name=ctx.name, num_outputs=count)
    return SequenceValue(tuple(node.output(i) for i in range(count)), data.element_type)


def split_in_ones(ctx: ControlFlowContext, data: Output, axis: int) -> list[Output]:
    size = data.shape[axis]
    if size == -1:
        raise ctx.error(f"splitting into parts of 1 needs a static axis {axis}, which is dynamic")
    if size == 0:
        return []
    node = ctx.graph.add("Split", [data, ctx.const(np.array(axis, np.int64))],
                         {"num_splits": size}, name=ctx.name, num_outputs=size)
    return [node.output(i) for i in range(size)]


def chunk_lengths(ctx: ControlFlowContext, data: Output, axis: int, size: np.ndarray) -> list[int]:
    """Parts of `size` along `axis`, the last one shorter when the axis does not divide."""
    total, chunk = data.shape[axis], int(size.reshape(-1)[0])
    if total == -1:
        raise ctx.error(f"splitting in parts of {chunk} needs a static axis {axis}")
    if chunk <= 0:
        raise ctx.error(f"split size {chunk} must be positive")
    lengths = [chunk] * (total // chunk)
    return lengths + [total % chunk] if total % chunk else lengths


@registry.register("ConcatFromSequence")
def concat_from_sequence(ctx: ControlFlowContext) -> Output:
    sequence = sequence_input(ctx, 0)
    if not len(sequence):
        raise ctx.error("concatenates an empty sequence, whose shape is unknown")
    rank = sequence.items[0].rank
    if rank is None:
        raise ctx.error("the rank of the sequence's tensors must be known")
    items = list(sequence.items)
    if ctx.attr("new_axis", 0):
        axis = ctx.axis(ctx.attr("axis"), rank + 1)
        items = [ctx.helper("Unsqueeze", item, i64(ctx, [axis]), suffix=f"unsqueeze_{i}")
                 for i, item in enumerate(items)]
    else:
        axis = ctx.axis(ctx.attr("axis"), rank)
    return items[0] if len(items) == 1 else ctx.op("Concat", *items, axis=axis)


@registry.register("SequenceMap")
def sequence_map(ctx: ControlFlowContext) -> list[SequenceValue]:
    """The body once per position: sequence inputs give their tensor at that position, tensor
    inputs themselves; output k collects the body's output k."""
    graph = ctx.subgraph("body")
    inputs = [ctx.input(i) for i in range(len(ctx.inputs))]
    length = len(sequence_input(ctx, 0))
    for index, value in enumerate(inputs):
        if isinstance(value, SequenceValue) and len(value) != length:
            raise ctx.error(f"its sequence inputs differ in length ({length} and {len(value)} "
                            f"at input {index})")
    per_position = []
    for at in range(length):
        bound = [v.items[at] if isinstance(v, SequenceValue) else v for v in inputs]
        per_position.append(ctx.inline(graph, bound))
    types = [element_type(o.type.tensor_type.elem_type, f"output {o.name!r} of its body")
             if o.type.HasField("tensor_type") else None for o in graph.output]
    return [SequenceValue(tuple(outputs[k] for outputs in per_position), types[k])
            for k in range(len(graph.output))]
