"""Element-wise math beyond arithmetic: trigonometric and hyperbolic functions, Sign, Round,
and the two remainders (Mod truncates as C's fmod does, FloorMod floors as Python's %)."""
import numpy as np

from . import register
from .elementwise import _Binary, unary

Sin = unary("Sin", lambda n, x: np.sin(x))
Cos = unary("Cos", lambda n, x: np.cos(x))
Tan = unary("Tan", lambda n, x: np.tan(x))
Asin = unary("Asin", lambda n, x: np.arcsin(x))
Acos = unary("Acos", lambda n, x: np.arccos(x))
Atan = unary("Atan", lambda n, x: np.arctan(x))
Sinh = unary("Sinh", lambda n, x: np.sinh(x))
Cosh = unary("Cosh", lambda n, x: np.cosh(x))
Asinh = unary("Asinh", lambda n, x: np.arcsinh(x), version="opset4")
Acosh = unary("Acosh", lambda n, x: np.arccosh(x), version="opset4")
Atanh = unary("Atanh", lambda n, x: np.arctanh(x), version="opset4")
Sign = unary("Sign", lambda n, x: np.sign(x))


def _round(node, x):
    """Round-5: `half_to_even` (numpy's rounding) or `half_away_from_zero`."""
    if node.attrs["mode"] == "half_to_even":
        return np.round(x)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


Round = unary("Round", _round, attributes=("mode",), version="opset5")


@register
class Mod(_Binary):
    """Mod-1: the remainder of truncated division; its sign is the dividend's."""

    type = "Mod"

    @staticmethod
    def evaluate(node, values):
        a, b = values
        with np.errstate(invalid="ignore", divide="ignore"):  # x % 0 is NaN for floats
            return [np.fmod(a, b).astype(a.dtype)]


@register
class FloorMod(_Binary):
    """FloorMod-1: the remainder of floored division; its sign is the divisor's."""

    type = "FloorMod"

    @staticmethod
    def evaluate(node, values):
        a, b = values
        with np.errstate(invalid="ignore", divide="ignore"):  # x % 0 is NaN for floats
            return [np.mod(a, b).astype(a.dtype)]
