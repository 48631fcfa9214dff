"""StridedSlice (opset1): numpy-style basic indexing driven by per-index 0/1 masks."""
from __future__ import annotations

import numpy as np

from . import OpSpec, register

_MASKS = ("begin_mask", "end_mask", "new_axis_mask", "shrink_axis_mask", "ellipsis_mask")


def index_items(attrs: dict, begin, end, strides) -> list:
    """The numpy index (slices, ints, None for a new axis, Ellipsis) the op applies."""
    def bit(mask: str, i: int) -> bool:
        values = attrs.get(mask) or []
        return i < len(values) and bool(values[i])

    items: list = []
    for i, b in enumerate(begin):
        stride = int(strides[i]) if strides is not None else 1
        if bit("ellipsis_mask", i):
            items.append(Ellipsis)
        elif bit("new_axis_mask", i):
            items.append(None)
        elif bit("shrink_axis_mask", i):
            items.append(int(b))
        else:
            items.append(slice(None if bit("begin_mask", i) else int(b),
                               None if bit("end_mask", i) else int(end[i]), stride))
    return items


def sliced_shape(shape: tuple[int, ...], items: list) -> tuple[int, ...]:
    """The shape `shape[items]` has; a dynamic (-1) dimension that is sliced stays -1."""
    consuming = sum(1 for item in items if item is not None and item is not Ellipsis)
    out: list[int] = []
    axis = 0
    for item in items:
        if item is Ellipsis:
            span = len(shape) - consuming
            out.extend(shape[axis:axis + span])
            axis += span
        elif item is None:
            out.append(1)
        elif isinstance(item, int):
            axis += 1
        else:
            size = shape[axis]
            out.append(-1 if size == -1 else len(range(size)[item]))
            axis += 1
    return tuple(out) + tuple(shape[axis:])


@register
class StridedSlice(OpSpec):
    type = "StridedSlice"
    attributes = _MASKS

    @staticmethod
    def infer(node):
        data, begin, end, strides = node.inputs
        if data.shape is None or begin.value is None or end.value is None or strides.value is None:
            return [(None, data.element_type)]
        items = index_items(node.attrs, np.ravel(begin.value), np.ravel(end.value),
                            np.ravel(strides.value))
        return [(sliced_shape(data.shape, items), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, begin, end, strides = values
        items = index_items(node.attrs, np.ravel(begin), np.ravel(end), np.ravel(strides))
        # np.array, not np.ascontiguousarray: that would turn a shrunk scalar into 1-D
        return [np.array(data[tuple(items)], order="C")]
