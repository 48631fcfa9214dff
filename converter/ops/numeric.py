"""Element-wise math beyond arithmetic: trigonometric and hyperbolic functions, Sign, Round,
and the two remainders (Mod truncates as C's fmod does, FloorMod floors as Python's %)."""
import numpy as np

from .elementwise import binary, unary

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


def _remainder(fn):
    """`fn` with a float x % 0 giving NaN quietly, as the ops define it."""
    def remainder(a, b):
        with np.errstate(invalid="ignore", divide="ignore"):
            return fn(a, b)
    return remainder


# Mod-1: the remainder of truncated division, with the dividend's sign.
Mod = binary("Mod", _remainder(np.fmod))
# FloorMod-1: the remainder of floored division, with the divisor's sign.
FloorMod = binary("FloorMod", _remainder(np.mod))
