"""Activations beyond the plain unary ones: PRelu, HardSigmoid, HSwish, SoftPlus, Erf, and LRN."""
import math

import numpy as np

from . import OpSpec, register


class _SameShape(OpSpec):
    @staticmethod
    def infer(node):
        return [(node.inputs[0].shape, node.inputs[0].element_type)]


@register
class PRelu(_SameShape):
    """PRelu-1: `slope` numpy-broadcasts to the data when their ranks are equal."""

    type = "PRelu"

    @staticmethod
    def evaluate(node, values):
        x, slope = values
        return [np.where(x < 0, x * slope, x).astype(x.dtype)]


@register
class HardSigmoid(_SameShape):
    """HardSigmoid-1: max(0, min(1, alpha * x + beta)); alpha and beta are scalar inputs."""

    type = "HardSigmoid"

    @staticmethod
    def evaluate(node, values):
        x, alpha, beta = values
        return [np.clip(alpha * x + beta, 0, 1).astype(x.dtype)]


@register
class HSwish(_SameShape):
    type = "HSwish"
    version = "opset4"

    @staticmethod
    def evaluate(node, values):
        x = values[0]
        return [(x * np.clip(x + 3, 0, 6) / 6).astype(x.dtype)]


@register
class SoftPlus(_SameShape):
    type = "SoftPlus"
    version = "opset4"

    @staticmethod
    def evaluate(node, values):
        x = values[0]
        return [np.logaddexp(0, x).astype(x.dtype)]


@register
class Erf(_SameShape):
    type = "Erf"

    @staticmethod
    def evaluate(node, values):
        x = values[0]
        return [np.vectorize(math.erf)(x).astype(x.dtype)]


@register
class LRN(_SameShape):
    """LRN-1 over constant `axes`: x / (bias + alpha / size^len(axes) * sum(x^2))^beta."""

    type = "LRN"
    attributes = ("alpha", "beta", "bias", "size")

    @staticmethod
    def evaluate(node, values):
        x, axes = values
        a = node.attrs
        if [int(v) for v in np.ravel(axes)] != [1]:
            return None
        size = int(a["size"])
        squared = np.pad(x.astype(np.float64) ** 2,
                         [(0, 0), ((size - 1) // 2, size // 2)] + [(0, 0)] * (x.ndim - 2))
        window = sum(squared[:, i:i + x.shape[1]] for i in range(size))
        scale = (a["bias"] + a["alpha"] / size * window) ** a["beta"]
        return [(x / scale).astype(x.dtype)]
