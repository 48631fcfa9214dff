"""TensorList* (TF2) and TensorArray*V3 (TF1) ops, as lists held by the frontend.

A list never becomes an OpenVINO value: it is a `TensorList`, an immutable Python value that
flows between handlers (through Identity, and through the Merge/Switch/Exit of an unrolled
loop), holding one Output per element, or one stacked tensor [n, ...] it was made from. Indices
that pick an element must be known at conversion time (the counter of an unrolled loop is);
reading from a stacked list works with any index. Stacking the list at the end gives one
Concat of the elements. A TensorArray's `flow` tensor carries the list; its handle only
names it, so reads and writes go by the flow input. A list or TensorArray whose length is only
known at run time never reaches these handlers: `..control_flow` makes it an OpenVINO Loop's
input or output (see `run_time_list_op`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ....element_types import from_numpy, to_numpy
from ....graph import Output
from ..context import TFNodeContext
from ..tensors import numpy_type
from . import registry


@dataclass(frozen=True)
class TensorList:
    """A list of tensors: `items` per element (None: not written yet), or `stacked`, the
    elements stacked on axis 0, when the list was made from one tensor."""

    element_type: str
    element_shape: tuple | None = None
    items: tuple | None = ()
    stacked: Output | None = None

    def length(self) -> int | None:
        if self.items is not None:
            return len(self.items)
        shape = self.stacked.shape
        return None if shape is None or shape[0] == -1 else shape[0]


def _element_type(ctx: TFNodeContext, attr: str) -> str:
    return from_numpy(numpy_type(ctx.attr(attr), f"{ctx.op_type} node {ctx.name!r}"))


def _known_shape(ctx: TFNodeContext, index: int | None, attr: str | None = None) -> tuple | None:
    """An element shape given as an input (-1 entries or a scalar -1 mean unknown) or attr."""
    value = ctx.const_value(index) if index is not None and ctx.has_input(index) else None
    if value is None and attr is not None:
        value = ctx.attr(attr)
        if value is not None:
            return tuple(value)
    if value is None or np.ndim(value) == 0:
        return None
    return tuple(int(d) for d in np.ravel(value))


def _the_list(ctx: TFNodeContext, index: int) -> TensorList:
    value = ctx.input(index)
    if not isinstance(value, TensorList):
        raise ctx.error(f"input {index} is not a tensor list this converter made")
    return value


def _index(ctx: TFNodeContext, index: int, length: int | None) -> int:
    value = ctx.required_value(index, "list index")
    position = int(np.ravel(value)[0])
    if length is not None and not -length <= position < length:
        raise ctx.error(f"index {position} is outside the list of {length}")
    return position % length if length else position


def _items(ctx: TFNodeContext, tensors: TensorList) -> list:
    """Every element: a stacked list is split at its (static) first dimension."""
    if tensors.items is not None:
        return list(tensors.items)
    length = tensors.length()
    if length is None:
        raise ctx.error("the list was made from a tensor whose first dimension is dynamic; "
                        "its elements cannot be changed one by one here")
    return [_gather(ctx, tensors.stacked, ctx.ints(i), f"item_{i}") for i in range(length)]


def _gather(ctx: TFNodeContext, data: Output, index: Output, suffix: str) -> Output:
    return ctx.graph.op("Gather", data, index, ctx.ints(0), name=f"{ctx.name}/{suffix}",
                        batch_dims=0)


def _zeros(ctx: TFNodeContext, tensors: TensorList, shape) -> Output:
    """An element never written: zeros, as TensorFlow reads it (its shape must be known)."""
    shape = shape if shape is not None else tensors.element_shape
    if shape is None or any(d < 0 for d in shape):
        raise ctx.error("reads a list element that was never written and whose shape is unknown")
    return ctx.graph.const(np.zeros(shape, to_numpy(tensors.element_type)),
                           name=f"{ctx.name}/zeros")


def _read(ctx: TFNodeContext, tensors: TensorList, index_input: int, shape) -> Output:
    if tensors.items is None:
        if tensors.length() == 1:  # a map over a batch of one: the one element, no Gather
            return ctx.op("Squeeze", tensors.stacked, ctx.ints([0]))
        return ctx.op("Gather", tensors.stacked, ctx.index_input(index_input), ctx.ints(0),
                      batch_dims=0)
    position = _index(ctx, index_input, tensors.length())
    item = tensors.items[position]
    return item if item is not None else _zeros(ctx, tensors, shape)


def _written(tensors: TensorList, items: list) -> TensorList:
    return TensorList(tensors.element_type, tensors.element_shape, tuple(items))


def _write(ctx: TFNodeContext, tensors: TensorList, index_input: int, value: Output) -> TensorList:
    items = _items(ctx, tensors)
    position = _index(ctx, index_input, len(items) if items else None)
    if position >= len(items):  # a TensorArray with dynamic_size grows
        items += [None] * (position + 1 - len(items))
    items[position] = value
    return _written(tensors, items)


def _stack(ctx: TFNodeContext, tensors: TensorList, shape) -> Output:
    if tensors.items is None:
        return tensors.stacked
    if not tensors.items:
        raise ctx.error("stacks an empty list")
    items = [item if item is not None else _zeros(ctx, tensors, shape) for item in tensors.items]
    if len(items) == 1:
        return ctx.op("Unsqueeze", items[0], ctx.ints([0]))
    parts = [ctx.graph.op("Unsqueeze", item, ctx.ints([0]), name=f"{ctx.name}/item_{i}")
             for i, item in enumerate(items)]
    return ctx.op("Concat", *parts, axis=0)


def _gather_items(ctx: TFNodeContext, tensors: TensorList, indices_input: int, shape) -> Output:
    if tensors.items is None:
        return ctx.op("Gather", tensors.stacked, ctx.index_input(indices_input), ctx.ints(0),
                      batch_dims=0)
    indices = np.ravel(ctx.required_value(indices_input, "indices")).astype(int)
    chosen = TensorList(tensors.element_type, tensors.element_shape,
                        tuple(tensors.items[i] for i in indices))
    return _stack(ctx, chosen, shape)


def _scatter(ctx: TFNodeContext, tensors: TensorList, indices_input: int,
             value: Output) -> TensorList:
    """Write value[k] at indices[k]; a scatter of a whole tensor over 0..n-1 keeps it stacked."""
    indices = np.ravel(ctx.required_value(indices_input, "indices")).astype(int)
    whole = (tensors.items is not None and all(item is None for item in tensors.items)
             and list(indices) == list(range(len(indices)))
             and (not tensors.items or len(tensors.items) == len(indices))
             and value.shape is not None and value.shape[0] == len(indices))
    if whole:
        return TensorList(tensors.element_type, tensors.element_shape, None, value)
    items = _items(ctx, tensors)
    for k, position in enumerate(indices):
        if position >= len(items):
            items += [None] * (position + 1 - len(items))
        items[position] = _gather(ctx, value, ctx.ints(k), f"scatter_{k}")
    return _written(tensors, items)


def _length(ctx: TFNodeContext, tensors: TensorList) -> Output:
    length = tensors.length()
    if length is None:
        return ctx.op("Gather", ctx.helper("ShapeOf", tensors.stacked, output_type="i32"),
                      ctx.ints(0), ctx.ints(0), batch_dims=0)
    return ctx.graph.const(np.asarray(length, np.int32), name=ctx.name)


# -- TensorList* (TF2 control flow) ------------------------------------------------------------
@registry.register("TensorListReserve")
def tensor_list_reserve(ctx: TFNodeContext):
    count = int(np.ravel(ctx.required_value(1, "num_elements"))[0])
    if count < 0:
        raise ctx.error("reserves an unknown number of elements")
    return TensorList(_element_type(ctx, "element_dtype"), _known_shape(ctx, 0), (None,) * count)


@registry.register("EmptyTensorList")
def empty_tensor_list(ctx: TFNodeContext):
    return TensorList(_element_type(ctx, "element_dtype"), _known_shape(ctx, 0), ())


@registry.register("TensorListFromTensor")
def tensor_list_from_tensor(ctx: TFNodeContext):
    data = ctx.input(0)
    shape = None if data.shape is None else tuple(data.shape[1:])
    return TensorList(_element_type(ctx, "element_dtype"), shape, None, data)


@registry.register("TensorListGetItem")
def tensor_list_get_item(ctx: TFNodeContext):
    return _read(ctx, _the_list(ctx, 0), 1, _known_shape(ctx, 2))


@registry.register("TensorListSetItem")
def tensor_list_set_item(ctx: TFNodeContext):
    return _write(ctx, _the_list(ctx, 0), 1, ctx.input(2))


@registry.register("TensorListStack")
def tensor_list_stack(ctx: TFNodeContext):
    return _stack(ctx, _the_list(ctx, 0), _known_shape(ctx, 1))


@registry.register("TensorListGather")
def tensor_list_gather(ctx: TFNodeContext):
    return _gather_items(ctx, _the_list(ctx, 0), 1, _known_shape(ctx, 2))


@registry.register("TensorListLength")
def tensor_list_length(ctx: TFNodeContext):
    return _length(ctx, _the_list(ctx, 0))


@registry.register("TensorListPushBack")
def tensor_list_push_back(ctx: TFNodeContext):
    tensors = _the_list(ctx, 0)
    return _written(tensors, _items(ctx, tensors) + [ctx.input(1)])


@registry.register("TensorListPopBack")
def tensor_list_pop_back(ctx: TFNodeContext):
    tensors = _the_list(ctx, 0)
    items = _items(ctx, tensors)
    if not items:
        raise ctx.error("pops from an empty list")
    last = items[-1] if items[-1] is not None else _zeros(ctx, tensors, _known_shape(ctx, 1))
    return [_written(tensors, items[:-1]), last]


# -- TensorArray*V3 (TF1 control flow) ---------------------------------------------------------
@registry.register("TensorArrayV3")
def tensor_array(ctx: TFNodeContext):
    """Outputs: the handle and the flow, both the (empty) list here."""
    size = int(np.ravel(ctx.required_value(0, "size"))[0])
    shape = ctx.attr("element_shape")
    shape = tuple(shape) if shape is not None and all(d >= 0 for d in shape) else None
    tensors = TensorList(_element_type(ctx, "dtype"), shape, (None,) * size)
    return [tensors, tensors]


@registry.register("TensorArrayScatterV3")
def tensor_array_scatter(ctx: TFNodeContext):
    return _scatter(ctx, _the_list(ctx, 3), 1, ctx.input(2))


@registry.register("TensorArrayReadV3")
def tensor_array_read(ctx: TFNodeContext):
    return _read(ctx, _the_list(ctx, 2), 1, None)


@registry.register("TensorArrayWriteV3")
def tensor_array_write(ctx: TFNodeContext):
    return _write(ctx, _the_list(ctx, 3), 1, ctx.input(2))


@registry.register("TensorArrayGatherV3")
def tensor_array_gather(ctx: TFNodeContext):
    shape = ctx.attr("element_shape")
    shape = tuple(shape) if shape is not None else None
    return _gather_items(ctx, _the_list(ctx, 2), 1, shape)


@registry.register("TensorArraySizeV3")
def tensor_array_size(ctx: TFNodeContext):
    return _length(ctx, _the_list(ctx, 1))
