"""Ops on booleans and bits: logical and bitwise operators, the comparisons not in
`elementwise`, the float classifiers IsNaN and IsInf, and Select."""
import numpy as np

from . import OpSpec, register
from ._shapes import broadcast
from .elementwise import _Binary, Unary


def _binary(name, fn, boolean_result=False, version="opset1"):
    """Register a two-input op with numpy broadcasting computed by `fn(a, b)`."""
    cls = type(name, (_Binary,), {
        "type": name,
        "version": version,
        "boolean_result": boolean_result,
        "evaluate": staticmethod(lambda node, v: [np.asarray(fn(v[0], v[1])).astype(
            np.bool_ if boolean_result else v[0].dtype)]),
    })
    return register(cls)


LessEqual = _binary("LessEqual", np.less_equal, boolean_result=True)
GreaterEqual = _binary("GreaterEqual", np.greater_equal, boolean_result=True)
LogicalAnd = _binary("LogicalAnd", np.logical_and, boolean_result=True)
LogicalOr = _binary("LogicalOr", np.logical_or, boolean_result=True)
LogicalXor = _binary("LogicalXor", np.logical_xor, boolean_result=True, version="opset2")
BitwiseAnd = _binary("BitwiseAnd", np.bitwise_and, version="opset13")
BitwiseOr = _binary("BitwiseOr", np.bitwise_or, version="opset13")
BitwiseXor = _binary("BitwiseXor", np.bitwise_xor, version="opset13")
BitwiseLeftShift = _binary("BitwiseLeftShift", lambda a, b: np.left_shift(a, b.astype(a.dtype)),
                           version="opset15")
BitwiseRightShift = _binary("BitwiseRightShift",
                            lambda a, b: np.right_shift(a, b.astype(a.dtype)), version="opset15")


@register
class LogicalNot(Unary):
    type = "LogicalNot"

    @staticmethod
    def evaluate(node, values):
        return [np.logical_not(values[0])]


@register
class BitwiseNot(Unary):
    """BitwiseNot-13: every bit inverted; on booleans, logical negation."""

    type = "BitwiseNot"
    version = "opset13"

    @staticmethod
    def evaluate(node, values):
        return [np.invert(values[0])]


class _Classifier(OpSpec):
    """A test of each element: the input's shape, boolean."""

    @staticmethod
    def infer(node):
        return [(node.inputs[0].shape, "boolean")]


@register
class IsNaN(_Classifier):
    type = "IsNaN"
    version = "opset10"

    @staticmethod
    def evaluate(node, values):
        return [np.isnan(values[0])]


@register
class IsInf(_Classifier):
    """IsInf-10: true for +inf when `detect_positive`, for -inf when `detect_negative`."""

    type = "IsInf"
    version = "opset10"
    attributes = ("detect_negative", "detect_positive")

    @staticmethod
    def evaluate(node, values):
        x = values[0]
        positive = np.isposinf(x) & bool(node.attrs.get("detect_positive", True))
        negative = np.isneginf(x) & bool(node.attrs.get("detect_negative", True))
        return [positive | negative]


@register
class Select(OpSpec):
    """Select-1: `then` where `cond` holds, else `else`, all three numpy-broadcast."""

    type = "Select"
    attributes = ("auto_broadcast",)

    @staticmethod
    def infer(node):
        cond, then, otherwise = node.inputs
        return [(broadcast(broadcast(cond.shape, then.shape), otherwise.shape),
                 then.element_type)]

    @staticmethod
    def evaluate(node, values):
        cond, then, otherwise = values
        return [np.where(cond, then, otherwise).astype(then.dtype)]
