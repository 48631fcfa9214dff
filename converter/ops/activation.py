"""Activations beyond the plain unary ones: PRelu, HardSigmoid, HSwish, SoftPlus, Erf, and LRN."""
import math

import numpy as np

from . import register
from .elementwise import Unary, unary


@register
class PRelu(Unary):
    """PRelu-1: `slope` numpy-broadcasts to the data when their ranks are equal."""

    type = "PRelu"

    @staticmethod
    def evaluate(node, values):
        x, slope = values
        return [np.where(x < 0, x * slope, x).astype(x.dtype)]


@register
class HardSigmoid(Unary):
    """HardSigmoid-1: max(0, min(1, alpha * x + beta)); alpha and beta are scalar inputs."""

    type = "HardSigmoid"

    @staticmethod
    def evaluate(node, values):
        x, alpha, beta = values
        return [np.clip(alpha * x + beta, 0, 1).astype(x.dtype)]


HSwish = unary("HSwish", lambda n, x: x * np.clip(x + 3, 0, 6) / 6, version="opset4")
SoftPlus = unary("SoftPlus", lambda n, x: np.logaddexp(0, x), version="opset4")
Erf = unary("Erf", lambda n, x: np.vectorize(math.erf)(x))


@register
class LRN(Unary):
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
