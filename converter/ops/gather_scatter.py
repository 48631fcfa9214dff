"""Ops that read or write elements at given indices: GatherElements, GatherND, ScatterUpdate,
ScatterElementsUpdate and ScatterNDUpdate (with their reductions).

Negative indices count from the end of the indexed axis, as ONNX and OpenVINO both read them.
"""
import numpy as np

from ._shapes import normalize_axis
from . import OpSpec, ShapedLikeInput, register


def _positive(indices: np.ndarray, size) -> np.ndarray:
    """`indices` with negative ones counted from the end of an axis of length `size`."""
    indices = indices.astype(np.int64)
    return np.where(indices < 0, indices + size, indices)


@register
class GatherElements(OpSpec):
    """GatherElements-6: out[i][j] = data[indices[i][j]][j] (for axis 0), shaped as indices."""

    type = "GatherElements"
    version = "opset6"
    attributes = ("axis",)

    @staticmethod
    def infer(node):
        data, indices = node.inputs
        return [(indices.shape, data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, indices = values
        axis = normalize_axis(node.attrs["axis"], data.ndim)
        return [np.take_along_axis(data, _positive(indices, data.shape[axis]), axis=axis)]


@register
class GatherND(OpSpec):
    """GatherND-8: slices of `data` at the index tuples in the last axis of `indices`, after
    `batch_dims` leading axes both share; the batch axes stay separate in the output."""

    type = "GatherND"
    version = "opset8"
    attributes = ("batch_dims",)

    @staticmethod
    def infer(node):
        data, indices = node.inputs
        if data.shape is None or indices.shape is None:
            return [(None, data.element_type)]
        depth = indices.shape[-1]
        if depth == -1:
            return [(None, data.element_type)]
        batch = node.attrs.get("batch_dims", 0)
        return [(tuple(indices.shape[:-1]) + tuple(data.shape[batch + depth:]),
                 data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, indices = values
        batch = node.attrs.get("batch_dims", 0)
        lead = data.shape[:batch]
        flat_data = data.reshape((-1,) + data.shape[batch:])
        flat_indices = indices.reshape((-1,) + indices.shape[batch:])
        depth = indices.shape[-1]
        out = []
        for b in range(flat_data.shape[0]):
            points = flat_indices[b].reshape(-1, depth)
            picked = [flat_data[b][tuple(_positive(p, np.array(flat_data.shape[1:1 + depth])))]
                      for p in points]
            tail = flat_data.shape[1 + depth:]
            out.append(np.array(picked, dtype=data.dtype).reshape(indices.shape[batch:-1] + tail))
        return [np.array(out, dtype=data.dtype).reshape(lead + indices.shape[batch:-1]
                                                        + data.shape[batch + depth:])]


def _reduce_into(target: np.ndarray, index: tuple, update, reduction: str) -> None:
    """target[index] combined with `update` by `reduction` (one element or slice at a time, in
    order, so that repeated indices accumulate)."""
    if reduction == "none":
        target[index] = update
    elif reduction == "sum":
        target[index] = target[index] + update
    elif reduction == "sub":
        target[index] = target[index] - update
    elif reduction == "prod":
        target[index] = target[index] * update
    elif reduction == "min":
        target[index] = np.minimum(target[index], update)
    elif reduction == "max":
        target[index] = np.maximum(target[index], update)
    else:
        raise ValueError(f"reduction {reduction!r} cannot be evaluated")


@register
class ScatterUpdate(ShapedLikeInput):
    """ScatterUpdate-3: data with the slices along `axis` at `indices` replaced by `updates`."""

    type = "ScatterUpdate"
    version = "opset3"

    @staticmethod
    def evaluate(node, values):
        data, indices, updates, axis = values
        axis = normalize_axis(int(np.ravel(axis)[0]), data.ndim)
        out = np.moveaxis(data.copy(), axis, 0)
        moved = np.moveaxis(updates, list(range(axis, axis + indices.ndim)),
                            list(range(indices.ndim)))
        for position, index in np.ndenumerate(_positive(indices, data.shape[axis])):
            out[index] = moved[position]
        return [np.ascontiguousarray(np.moveaxis(out, 0, axis))]


@register
class ScatterElementsUpdate(ShapedLikeInput):
    """ScatterElementsUpdate-12: data[indices[i][j]][j] (for axis 0) combined with
    updates[i][j] by `reduction` (none, sum, prod, min, max, mean); `use_init_val` false
    leaves data's own value out of the reduction."""

    type = "ScatterElementsUpdate"
    version = "opset12"
    attributes = ("reduction", "use_init_val")

    @staticmethod
    def evaluate(node, values):
        data, indices, updates, axis = values
        reduction = node.attrs.get("reduction", "none")
        if reduction == "mean" or not node.attrs.get("use_init_val", True):
            raise ValueError("mean and use_init_val=false are not evaluated at conversion")
        axis = normalize_axis(int(np.ravel(axis)[0]), data.ndim)
        out = data.copy()
        for position, index in np.ndenumerate(_positive(indices, data.shape[axis])):
            target = list(position)
            target[axis] = index
            _reduce_into(out, tuple(target), updates[position], reduction)
        return [out]


@register
class ScatterNDUpdate(ShapedLikeInput):
    """ScatterNDUpdate-15: the slices of data at the index tuples in the last axis of
    `indices` combined with `updates` by `reduction` (none, sum, sub, prod, min, max)."""

    type = "ScatterNDUpdate"
    version = "opset15"
    attributes = ("reduction",)

    @staticmethod
    def evaluate(node, values):
        data, indices, updates = values
        reduction = node.attrs.get("reduction", "none")
        depth = indices.shape[-1]
        out = data.copy()
        points = indices.reshape(-1, depth)
        slices = updates.reshape((-1,) + data.shape[depth:])
        for point, update in zip(points, slices):
            index = tuple(_positive(point, np.array(data.shape[:depth])))
            _reduce_into(out, index, update, reduction)
        return [out]

