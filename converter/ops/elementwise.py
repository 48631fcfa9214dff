"""Element-wise ops: binary arithmetic with numpy broadcasting, and unary activations."""
import numpy as np

from ._shapes import broadcast
from . import OpSpec, ShapedLikeInput, register


class _Binary(OpSpec):
    attributes = ("auto_broadcast",)
    boolean_result = False

    @classmethod
    def infer(cls, node):
        a, b = node.inputs
        element_type = "boolean" if cls.boolean_result else a.element_type
        return [(broadcast(a.shape, b.shape), element_type)]


def binary(name, fn, boolean_result=False, version="opset1"):
    """Register a two-input op with numpy broadcasting computed by `fn(a, b)`; its result has
    the first input's type, or boolean."""
    cls = type(name, (_Binary,), {
        "type": name,
        "version": version,
        "boolean_result": boolean_result,
        "evaluate": staticmethod(lambda node, v: [np.asarray(fn(v[0], v[1])).astype(
            np.bool_ if boolean_result else v[0].dtype)]),
    })
    return register(cls)


Add = binary("Add", np.add)
Subtract = binary("Subtract", np.subtract)
Multiply = binary("Multiply", np.multiply)
Maximum = binary("Maximum", np.maximum)
Minimum = binary("Minimum", np.minimum)
SquaredDifference = binary("SquaredDifference", lambda a, b: (a - b) ** 2)
Power = binary("Power", np.power)
Equal = binary("Equal", np.equal, boolean_result=True)
Less = binary("Less", np.less, boolean_result=True)
Greater = binary("Greater", np.greater, boolean_result=True)


@register
class Divide(_Binary):
    """Divide-1. `m_pythondiv` (default true) floors integer quotients as Python does; false
    truncates them toward zero as C and ONNX do."""

    type = "Divide"
    attributes = ("auto_broadcast", "m_pythondiv")

    @staticmethod
    def evaluate(node, values):
        a, b = values
        if not np.issubdtype(a.dtype, np.integer):
            return [np.divide(a, b).astype(a.dtype)]
        if node.attrs.get("m_pythondiv", True):
            return [np.floor_divide(a, b).astype(a.dtype)]
        return [(np.trunc(a / b)).astype(a.dtype)]


class Unary(ShapedLikeInput):
    """An element-wise op of one input (more inputs are scalars or parameters)."""


def unary(name, fn, attributes=(), version="opset1"):
    """Register an element-wise op computed by `fn(node, x)`."""
    cls = type(name, (Unary,), {
        "type": name,
        "version": version,
        "attributes": attributes,
        "evaluate": staticmethod(lambda node, v: [np.asarray(fn(node, v[0])).astype(v[0].dtype)]),
    })
    return register(cls)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


Relu = unary("ReLU", lambda n, x: np.maximum(x, 0))
Clamp = unary("Clamp", lambda n, x: np.clip(x, n.attrs["min"], n.attrs["max"]), ("min", "max"))
Sigmoid = unary("Sigmoid", lambda n, x: _sigmoid(x))
Tanh = unary("Tanh", lambda n, x: np.tanh(x))
Exp = unary("Exp", lambda n, x: np.exp(x))
Log = unary("Log", lambda n, x: np.log(x))
Sqrt = unary("Sqrt", lambda n, x: np.sqrt(x))
Abs = unary("Abs", lambda n, x: np.abs(x))
Negative = unary("Negative", lambda n, x: np.negative(x))
Floor = unary("Floor", lambda n, x: np.floor(x))
Ceiling = unary("Ceiling", lambda n, x: np.ceil(x))
Elu = unary("Elu", lambda n, x: np.where(x > 0, x, n.attrs["alpha"] * (np.exp(x) - 1)), ("alpha",))
