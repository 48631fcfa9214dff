"""Graph plumbing: Parameter, Const, Result, Convert, ShapeOf."""
import numpy as np

from ..element_types import to_numpy
from . import OpSpec, register


@register
class Parameter(OpSpec):
    type = "Parameter"
    attributes = ("shape", "element_type")

    @staticmethod
    def infer(node):
        info = node.outputs[0]
        return [(info.shape, info.element_type)]


@register
class Const(OpSpec):
    type = "Const"
    attributes = ("element_type", "shape", "offset", "size")

    @staticmethod
    def infer(node):
        return [(node.value.shape, node.outputs[0].element_type)]


@register
class Result(OpSpec):
    type = "Result"

    @staticmethod
    def infer(node):
        return []


@register
class Convert(OpSpec):
    type = "Convert"
    attributes = ("destination_type",)

    @staticmethod
    def infer(node):
        return [(node.inputs[0].shape, node.attrs["destination_type"])]

    @staticmethod
    def evaluate(node, values):
        return [values[0].astype(to_numpy(node.attrs["destination_type"]))]


@register
class ShapeOf(OpSpec):
    type = "ShapeOf"
    version = "opset3"
    attributes = ("output_type",)

    @staticmethod
    def infer(node):
        shape = node.inputs[0].shape
        return [((None if shape is None else len(shape),) if shape is not None else None,
                 node.attrs.get("output_type", "i64"))]

    @classmethod
    def fold(cls, node):
        """A shape known in full is a constant, whatever produces the tensor."""
        shape = node.inputs[0].shape
        if shape is None or -1 in shape:
            return None
        return [np.array(shape, dtype=to_numpy(node.attrs.get("output_type", "i64")))]
