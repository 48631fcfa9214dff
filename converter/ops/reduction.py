"""Reductions over given axes: ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd,
ReduceL1 and ReduceL2.

The axes are an input, constant or computed at run time (negative ones count from the end; an
empty list reduces nothing). With run-time axes the output keeps the data's rank under
`keep_dims` (every dimension unknown), and loses one axis per entry of the axes otherwise."""
import numpy as np

from ._shapes import normalize_axis
from . import OpSpec, register


def _runtime_axes_shape(data_shape, axes, keep):
    """The output shape when the axes are only known at run time."""
    rank = len(data_shape)
    if keep:
        return (-1,) * rank
    if axes.shape is None or len(axes.shape) > 1:
        return None
    count = axes.shape[0] if axes.shape else 1
    return None if count == -1 else (-1,) * (rank - count)


class _Reduce(OpSpec):
    attributes = ("keep_dims",)
    numpy_fn = None

    @staticmethod
    def infer(node):
        data, axes = node.inputs
        keep = node.attrs.get("keep_dims", False)
        if data.shape is None:
            return [(None, data.element_type)]
        if axes.value is None:
            return [(_runtime_axes_shape(data.shape, axes, keep), data.element_type)]
        rank = len(data.shape)
        reduced = {normalize_axis(int(a), rank) for a in np.ravel(axes.value)}
        shape = [1 if i in reduced else d for i, d in enumerate(data.shape) if keep or i not in reduced]
        return [(tuple(shape), data.element_type)]

    @classmethod
    def evaluate(cls, node, values):
        data, axes = values
        axes = tuple(sorted({normalize_axis(int(a), data.ndim) for a in np.ravel(axes)}))
        result = cls.numpy_fn(data, axis=axes, keepdims=bool(node.attrs.get("keep_dims", False)))
        return [np.asarray(result).astype(data.dtype)]


def _reduce(name, fn, version="opset1"):
    return register(type(name, (_Reduce,), {"type": name, "version": version,
                                            "numpy_fn": staticmethod(fn)}))


def _l1(data, axis, keepdims):
    return np.sum(np.abs(data), axis=axis, keepdims=keepdims)


def _l2(data, axis, keepdims):
    return np.sqrt(np.sum(np.square(data), axis=axis, keepdims=keepdims))


ReduceMean = _reduce("ReduceMean", np.mean)
ReduceMax = _reduce("ReduceMax", np.max)
ReduceMin = _reduce("ReduceMin", np.min)
ReduceSum = _reduce("ReduceSum", np.sum)
ReduceProd = _reduce("ReduceProd", np.prod)
ReduceL1 = _reduce("ReduceL1", _l1, "opset4")
ReduceL2 = _reduce("ReduceL2", _l2, "opset4")
ReduceLogicalAnd = _reduce("ReduceLogicalAnd", np.all)
ReduceLogicalOr = _reduce("ReduceLogicalOr", np.any)
