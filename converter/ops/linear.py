"""MatMul and SoftMax."""
import numpy as np

from ._shapes import broadcast, normalize_axis
from . import OpSpec, register


@register
class MatMul(OpSpec):
    type = "MatMul"
    attributes = ("transpose_a", "transpose_b")

    @staticmethod
    def infer(node):
        a, b = (s.shape for s in node.inputs)
        if a is None or b is None:
            return [(None, node.inputs[0].element_type)]
        a, b = list(a), list(b)
        a_vector, b_vector = len(a) == 1, len(b) == 1
        if a_vector:
            a = [1] + a
        if b_vector:
            b = b + [1]
        if node.attrs.get("transpose_a") and not a_vector:
            a[-2], a[-1] = a[-1], a[-2]
        if node.attrs.get("transpose_b") and not b_vector:
            b[-2], b[-1] = b[-1], b[-2]
        if -1 not in (a[-1], b[-2]) and a[-1] != b[-2]:
            raise ValueError(f"inner dimensions {a[-1]} and {b[-2]} differ")
        batch = broadcast(tuple(a[:-2]), tuple(b[:-2]))
        shape = list(batch) + ([] if a_vector else [a[-2]]) + ([] if b_vector else [b[-1]])
        return [(tuple(shape), node.inputs[0].element_type)]

    @staticmethod
    def evaluate(node, values):
        a, b = values
        if node.attrs.get("transpose_a") and a.ndim > 1:
            a = np.swapaxes(a, -1, -2)
        if node.attrs.get("transpose_b") and b.ndim > 1:
            b = np.swapaxes(b, -1, -2)
        return [np.matmul(a, b).astype(values[0].dtype)]


@register
class Softmax(OpSpec):
    type = "SoftMax"
    version = "opset8"
    attributes = ("axis",)

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        if data.shape is not None:
            normalize_axis(node.attrs["axis"], len(data.shape))
        return [(data.shape, data.element_type)]

    @staticmethod
    def evaluate(node, values):
        x = values[0]
        e = np.exp(x - x.max(axis=node.attrs["axis"], keepdims=True))
        return [(e / e.sum(axis=node.attrs["axis"], keepdims=True)).astype(x.dtype)]
