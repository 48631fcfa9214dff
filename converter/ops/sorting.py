"""Ops along one axis in order: CumSum (running sums). (TopK lives in ops/selection.py.)"""
import numpy as np

from . import ShapedLikeInput, register
from ._shapes import normalize_axis


@register
class CumSum(ShapedLikeInput):
    """CumSum-3: running sums of `data` along the scalar `axis` (an input, which may be known
    only at run time); `exclusive` leaves each element out of its own sum, `reverse` sums from
    the end."""

    type = "CumSum"
    version = "opset3"
    attributes = ("exclusive", "reverse")

    @staticmethod
    def evaluate(node, values):
        data, axis = values
        axis = normalize_axis(int(np.ravel(axis)[0]), data.ndim)
        if node.attrs.get("reverse", False):
            data = np.flip(data, axis)
        sums = np.cumsum(data, axis=axis, dtype=data.dtype)
        if node.attrs.get("exclusive", False):  # shifted by one: 0, x0, x0 + x1, ...
            sums = np.concatenate([np.zeros_like(np.take(sums, [0], axis)),
                                   np.take(sums, np.arange(data.shape[axis] - 1), axis)], axis)
        if node.attrs.get("reverse", False):
            sums = np.flip(sums, axis)
        return [np.ascontiguousarray(sums)]
