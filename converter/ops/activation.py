"""Activations beyond the plain unary ones: PRelu, HardSigmoid, HSwish, SoftPlus, Erf, LRN,
Selu, Swish, Mish, SoftSign, Gelu and LogSoftmax."""
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


@register
class Selu(Unary):
    """Selu-1: lambda * x for x > 0, else lambda * alpha * (exp(x) - 1); alpha and lambda are
    scalar inputs."""

    type = "Selu"

    @staticmethod
    def evaluate(node, values):
        x, alpha, lambda_ = values
        return [(lambda_ * np.where(x > 0, x, alpha * (np.exp(x) - 1))).astype(x.dtype)]


@register
class Swish(Unary):
    """Swish-4: x * sigmoid(beta * x), beta an optional scalar input (1 without it)."""

    type = "Swish"
    version = "opset4"

    @staticmethod
    def evaluate(node, values):
        x = values[0]
        beta = values[1] if len(values) > 1 else 1.0
        return [(x / (1 + np.exp(-beta * x))).astype(x.dtype)]


def _gelu(node, x):
    """Gelu-7 with approximation_mode ERF (exact) or TANH."""
    if node.attrs["approximation_mode"] == "TANH":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
        return 0.5 * x * (1 + np.tanh(inner))
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


Mish = unary("Mish", lambda n, x: x * np.tanh(np.logaddexp(0, x)), version="opset4")
SoftSign = unary("SoftSign", lambda n, x: x / (1 + np.abs(x)), version="opset9")
Gelu = unary("Gelu", _gelu, attributes=("approximation_mode",), version="opset7")


def _log_softmax(node, x):
    axis = node.attrs["axis"]
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


LogSoftmax = unary("LogSoftmax", _log_softmax, attributes=("axis",), version="opset5")
