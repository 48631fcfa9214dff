"""Ops that only the fusion passes emit, for patterns frontends decompose: HSigmoid and
NormalizeL2 (see converter/passes/fuse_activation_patterns.py and
fuse_normalization_patterns.py)."""
import numpy as np

from . import ShapedLikeInput, register
from ._shapes import normalize_axis
from .elementwise import unary

HSigmoid = unary("HSigmoid", lambda n, x: np.clip(x + 3, 0, 6) / 6, version="opset5")


@register
class NormalizeL2(ShapedLikeInput):
    """NormalizeL2-1: data / sqrt(sum(data^2) over `axes`), the sum combined with `eps` by
    `eps_mode`: add (sum + eps) or max (max(sum, eps))."""

    type = "NormalizeL2"
    attributes = ("eps", "eps_mode")

    @staticmethod
    def evaluate(node, values):
        data, axes = values
        axes = tuple(sorted({normalize_axis(int(a), data.ndim) for a in np.ravel(axes)}))
        squares = np.sum(np.square(data), axis=axes, keepdims=True)
        eps = node.attrs["eps"]
        if node.attrs["eps_mode"] == "add":
            squares = squares + eps
        else:
            squares = np.maximum(squares, eps)
        return [(data / np.sqrt(squares)).astype(data.dtype)]
