"""Reductions over constant axes: ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd."""
import numpy as np

from ._shapes import normalize_axis
from . import OpSpec, register


class _Reduce(OpSpec):
    attributes = ("keep_dims",)
    numpy_fn = None

    @staticmethod
    def infer(node):
        data, axes = node.inputs
        if data.shape is None or axes.value is None:
            return [(None, data.element_type)]
        rank = len(data.shape)
        reduced = {normalize_axis(int(a), rank) for a in np.ravel(axes.value)}
        keep = node.attrs.get("keep_dims", False)
        shape = [1 if i in reduced else d for i, d in enumerate(data.shape) if keep or i not in reduced]
        return [(tuple(shape), data.element_type)]

    @classmethod
    def evaluate(cls, node, values):
        data, axes = values
        axes = tuple(int(a) for a in np.ravel(axes))
        result = cls.numpy_fn(data, axis=axes, keepdims=bool(node.attrs.get("keep_dims", False)))
        return [np.asarray(result).astype(data.dtype)]


def _reduce(name, fn):
    return register(type(name, (_Reduce,), {"type": name, "numpy_fn": staticmethod(fn)}))


ReduceMean = _reduce("ReduceMean", np.mean)
ReduceMax = _reduce("ReduceMax", np.max)
ReduceMin = _reduce("ReduceMin", np.min)
ReduceSum = _reduce("ReduceSum", np.sum)
ReduceProd = _reduce("ReduceProd", np.prod)
