"""Ops that cut, repeat or broadcast data: Slice, Split, VariadicSplit, Tile, Broadcast, Range."""
import math

import numpy as np

from ..element_types import to_numpy
from ._shapes import broadcast, const_ints, normalize_axis
from . import OpSpec, register


def _slice_length(size: int, start: int, stop: int, step: int) -> int:
    """How many elements numpy-style slicing keeps (bounds clamp as in numpy and ONNX)."""
    if size == -1:
        return -1
    return len(range(size)[slice(start, stop, step)])


@register
class Slice(OpSpec):
    """Slice-8: data, start, stop, step[, axes]; out-of-range bounds are clamped."""

    type = "Slice"
    version = "opset8"

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        params = [const_ints(s) for s in node.inputs[1:]]
        if data.shape is None:
            return [(None, data.element_type)]
        if any(p is None for p in params):
            return [((-1,) * len(data.shape), data.element_type)]
        start, stop, step = params[:3]
        axes = params[3] if len(params) > 3 else list(range(len(start)))
        shape = list(data.shape)
        for b, e, s, axis in zip(start, stop, step, axes):
            axis = normalize_axis(axis, len(shape))
            shape[axis] = _slice_length(shape[axis], b, e, s)
        return [(tuple(shape), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data = values[0]
        start, stop, step = ([int(v) for v in np.ravel(x)] for x in values[1:4])
        axes = [int(v) for v in np.ravel(values[4])] if len(values) > 4 else range(len(start))
        index = [slice(None)] * data.ndim
        for b, e, s, axis in zip(start, stop, step, axes):
            index[axis % data.ndim] = slice(b, e, s)
        return [data[tuple(index)].copy()]


@register
class Split(OpSpec):
    """Split-1: `num_splits` equal parts along a constant axis."""

    type = "Split"
    attributes = ("num_splits",)

    @staticmethod
    def infer(node):
        data, axis = node.inputs
        parts = node.attrs["num_splits"]
        axis_value = const_ints(axis)
        if data.shape is None or axis_value is None:
            return [(None, data.element_type)] * parts
        a = normalize_axis(axis_value[0], len(data.shape))
        shape = list(data.shape)
        if shape[a] != -1:
            if shape[a] % parts:
                raise ValueError(f"dimension {shape[a]} does not split into {parts} equal parts")
            shape[a] //= parts
        return [(tuple(shape), data.element_type)] * parts

    @staticmethod
    def evaluate(node, values):
        data, axis = values
        return list(np.split(data, node.attrs["num_splits"], axis=int(np.ravel(axis)[0])))


@register
class VariadicSplit(OpSpec):
    """VariadicSplit-1: parts of given lengths (one may be -1: the rest) along an axis."""

    type = "VariadicSplit"

    @staticmethod
    def _lengths(size: int, lengths: list[int]) -> list[int]:
        if -1 in lengths and size != -1:
            known = sum(n for n in lengths if n != -1)
            lengths = [size - known if n == -1 else n for n in lengths]
        return lengths

    @classmethod
    def infer(cls, node):
        data, axis, split_lengths = node.inputs
        axis_value, lengths = const_ints(axis), const_ints(split_lengths)
        if lengths is None:  # run-time lengths: the split axis becomes dynamic
            count = split_lengths.shape[0] if split_lengths.shape else 1
            if data.shape is None or axis_value is None:
                return [(None, data.element_type)] * count
            a = normalize_axis(axis_value[0], len(data.shape))
            shape = tuple(-1 if i == a else d for i, d in enumerate(data.shape))
            return [(shape, data.element_type)] * count
        if data.shape is None or axis_value is None:
            return [(None, data.element_type)] * len(lengths)
        a = normalize_axis(axis_value[0], len(data.shape))
        outputs = []
        for length in cls._lengths(data.shape[a], lengths):
            shape = list(data.shape)
            shape[a] = length
            outputs.append((tuple(shape), data.element_type))
        return outputs

    @classmethod
    def evaluate(cls, node, values):
        data, axis, lengths = values
        a = int(np.ravel(axis)[0]) % data.ndim
        sizes = cls._lengths(data.shape[a], [int(n) for n in np.ravel(lengths)])
        return list(np.split(data, np.cumsum(sizes)[:-1], axis=a))


@register
class Tile(OpSpec):
    type = "Tile"

    @staticmethod
    def infer(node):
        data, repeats = node.inputs
        reps = const_ints(repeats)
        if data.shape is None or reps is None:
            return [(None, data.element_type)]
        rank = max(len(data.shape), len(reps))
        shape = (1,) * (rank - len(data.shape)) + tuple(data.shape)
        reps = [1] * (rank - len(reps)) + reps
        return [(tuple(-1 if d == -1 else d * r for d, r in zip(shape, reps)), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        return [np.tile(values[0], [int(r) for r in np.ravel(values[1])])]


@register
class Broadcast(OpSpec):
    """Broadcast-3 in `numpy` (to the target shape) or `bidirectional` (as ONNX Expand) mode."""

    type = "Broadcast"
    version = "opset3"
    attributes = ("mode",)

    @staticmethod
    def infer(node):
        data, target = node.inputs[:2]
        shape = const_ints(target)
        if shape is None:
            length = target.shape[0] if target.shape else -1
            return [(None if length == -1 else (-1,) * length, data.element_type)]
        if node.attrs.get("mode", "numpy") == "bidirectional":
            return [(broadcast(data.shape, tuple(shape)), data.element_type)]
        return [(tuple(shape), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, target = values[:2]
        shape = tuple(int(d) for d in np.ravel(target))
        if node.attrs.get("mode", "numpy") == "bidirectional":
            shape = np.broadcast_shapes(data.shape, shape)
        return [np.broadcast_to(data, shape).copy()]


@register
class Range(OpSpec):
    """Range-4: [start, stop) by step, as `output_type`."""

    type = "Range"
    version = "opset4"
    attributes = ("output_type",)

    @staticmethod
    def infer(node):
        values = [s.value for s in node.inputs]
        element_type = node.attrs["output_type"]
        if any(v is None for v in values):
            return [((-1,), element_type)]
        start, stop, step = (float(np.ravel(v)[0]) for v in values)
        return [((max(math.ceil((stop - start) / step), 0),), element_type)]

    @staticmethod
    def evaluate(node, values):
        start, stop, step = (np.ravel(v)[0] for v in values)
        dtype = to_numpy(node.attrs["output_type"])
        return [np.arange(start, stop, step).astype(dtype)]
