"""Normalizations OpenVINO has as single ops: MVN (mean-variance normalization over given
axes). LayerNormalization, RMSNormalization and the like are decomposed by the frontends."""
import numpy as np

from . import ShapedLikeInput, register
from ._shapes import normalize_axis


@register
class MVN(ShapedLikeInput):
    """MVN-6: `data` minus its mean over `axes` (an input), divided by its standard deviation
    there when `normalize_variance`: sqrt(var + eps) (`eps_mode` inside_sqrt) or
    sqrt(var) + eps (outside_sqrt)."""

    type = "MVN"
    version = "opset6"
    attributes = ("normalize_variance", "eps", "eps_mode")

    @staticmethod
    def evaluate(node, values):
        data, axes = values
        axes = tuple(sorted({normalize_axis(int(a), data.ndim) for a in np.ravel(axes)}))
        centered = data - np.mean(data, axis=axes, keepdims=True)
        if not node.attrs.get("normalize_variance", True):
            return [centered.astype(data.dtype)]
        variance = np.mean(np.square(centered), axis=axes, keepdims=True)
        eps = node.attrs.get("eps", 1e-9)
        if node.attrs.get("eps_mode", "inside_sqrt") == "inside_sqrt":
            std = np.sqrt(variance + eps)
        else:
            std = np.sqrt(variance) + eps
        return [(centered / std).astype(data.dtype)]
