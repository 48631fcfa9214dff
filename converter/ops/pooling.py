"""MaxPool and AvgPool over the spatial axes of NCHW data."""
from ._shapes import window_output
from . import OpSpec, register


def _pool_shape(node):
    data = node.inputs[0]
    if data.shape is None:
        return None
    a = node.attrs
    ceil = a.get("rounding_type", "floor") == "ceil"
    spatial = [
        window_output(size, k, s, 1, pb, pe, a.get("auto_pad", "explicit"), ceil)
        for size, k, s, pb, pe in zip(data.shape[2:], a["kernel"], a["strides"], a["pads_begin"],
                                      a["pads_end"])
    ]
    return (*data.shape[:2], *spatial)


@register
class MaxPool(OpSpec):
    type = "MaxPool"
    attributes = ("strides", "pads_begin", "pads_end", "kernel", "rounding_type", "auto_pad")

    @staticmethod
    def infer(node):
        return [(_pool_shape(node), node.inputs[0].element_type)]


@register
class AvgPool(OpSpec):
    type = "AvgPool"
    attributes = ("strides", "pads_begin", "pads_end", "kernel", "exclude-pad", "rounding_type",
                  "auto_pad")

    @staticmethod
    def infer(node):
        return [(_pool_shape(node), node.inputs[0].element_type)]
