"""Ops that pick elements by rank: TopK, and OneHot which turns indices back into a tensor."""
import numpy as np

from ..element_types import to_numpy
from . import OpSpec, register
from ._shapes import const_ints, normalize_axis


@register
class TopK(OpSpec):
    """TopK-11: the `k` largest (`mode` max) or smallest values along `axis` and their indices.
    With `stable`, equal values keep their order, so the first of them wins."""

    type = "TopK"
    version = "opset11"
    attributes = ("axis", "mode", "sort", "index_element_type", "stable")

    @staticmethod
    def infer(node):
        data, k = node.inputs
        shape = data.shape
        if shape is not None:
            axis = normalize_axis(node.attrs["axis"], len(shape))
            count = const_ints(k)
            size = shape[axis]
            shape = list(shape)
            if count is None:
                shape[axis] = -1
            elif size != -1:
                shape[axis] = min(count[0], size)
            else:
                shape[axis] = count[0]
        return [(shape, data.element_type), (shape, node.attrs.get("index_element_type", "i32"))]

    @staticmethod
    def evaluate(node, values):
        data, k = values
        axis = normalize_axis(node.attrs["axis"], data.ndim)
        keys = -data if node.attrs["mode"] == "max" else data
        order = np.argsort(keys, axis=axis, kind="stable")
        indices = np.take(order, np.arange(min(int(np.ravel(k)[0]), data.shape[axis])), axis=axis)
        if node.attrs["sort"] == "index":
            indices = np.sort(indices, axis=axis)
        index_type = to_numpy(node.attrs.get("index_element_type", "i32"))
        return [np.take_along_axis(data, indices, axis=axis), indices.astype(index_type)]


@register
class OneHot(OpSpec):
    """OneHot-1: `on_value` where an index (of `indices`) points along the new `axis` of
    length `depth`, `off_value` elsewhere."""

    type = "OneHot"
    attributes = ("axis",)

    @staticmethod
    def infer(node):
        indices, depth, on_value, _ = node.inputs
        if indices.shape is None:
            return [(None, on_value.element_type)]
        axis = normalize_axis(node.attrs["axis"], len(indices.shape) + 1)
        count = const_ints(depth)
        shape = list(indices.shape)
        shape.insert(axis, -1 if count is None else count[0])
        return [(shape, on_value.element_type)]

    @staticmethod
    def evaluate(node, values):
        indices, depth, on_value, off_value = values
        axis = normalize_axis(node.attrs["axis"], indices.ndim + 1)
        positions = np.arange(int(np.ravel(depth)[0])).reshape(
            [-1 if i == axis else 1 for i in range(indices.ndim + 1)])
        hits = np.expand_dims(indices, axis) == positions
        return [np.where(hits, on_value, off_value).astype(on_value.dtype)]
