"""Ops on booleans and bits: logical and bitwise operators, the comparisons not in
`elementwise`, the float classifiers IsNaN and IsInf, and Select."""
import numpy as np

from . import OpSpec, register
from ._shapes import broadcast
from .elementwise import binary, unary


LessEqual = binary("LessEqual", np.less_equal, boolean_result=True)
GreaterEqual = binary("GreaterEqual", np.greater_equal, boolean_result=True)
LogicalAnd = binary("LogicalAnd", np.logical_and, boolean_result=True)
LogicalOr = binary("LogicalOr", np.logical_or, boolean_result=True)
LogicalXor = binary("LogicalXor", np.logical_xor, boolean_result=True, version="opset2")
BitwiseAnd = binary("BitwiseAnd", np.bitwise_and, version="opset13")
BitwiseOr = binary("BitwiseOr", np.bitwise_or, version="opset13")
BitwiseXor = binary("BitwiseXor", np.bitwise_xor, version="opset13")
BitwiseLeftShift = binary("BitwiseLeftShift", lambda a, b: np.left_shift(a, b.astype(a.dtype)),
                           version="opset15")
BitwiseRightShift = binary("BitwiseRightShift",
                            lambda a, b: np.right_shift(a, b.astype(a.dtype)), version="opset15")


LogicalNot = unary("LogicalNot", lambda n, x: np.logical_not(x))
# BitwiseNot-13: every bit inverted; on booleans, logical negation.
BitwiseNot = unary("BitwiseNot", lambda n, x: np.invert(x), version="opset13")


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
