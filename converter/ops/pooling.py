"""MaxPool and AvgPool over the spatial axes of NCHW data (both opset14: MaxPool with
dilations and an indices output, both with the `ceil_torch` rounding, where the last window
must start inside the input or its begin padding, as ONNX and PyTorch count windows)."""
from ._shapes import window_output
from . import OpSpec, register

ROUNDING_TYPES = ("floor", "ceil", "ceil_torch")


def _plain_ceil_output(size, kernel, stride, dilation, pad_begin, pad_end):
    """OpenVINO's `ceil` rounding: every window that starts before the padded end counts."""
    if size == -1:
        return -1
    span = size + pad_begin + pad_end - (dilation * (kernel - 1) + 1)
    return -(-span // stride) + 1


def _pool_shape(node):
    data = node.inputs[0]
    if data.shape is None:
        return None
    a = node.attrs
    rounding = a.get("rounding_type", "floor")
    if rounding not in ROUNDING_TYPES:
        raise ValueError(f"rounding_type {rounding!r} is not one of {', '.join(ROUNDING_TYPES)}")
    auto_pad = a.get("auto_pad", "explicit")
    dilations = a.get("dilations") or [1] * len(a["kernel"])
    spatial = []
    for size, k, s, d, pb, pe in zip(data.shape[2:], a["kernel"], a["strides"], dilations,
                                     a["pads_begin"], a["pads_end"]):
        if rounding == "ceil" and auto_pad == "explicit":
            spatial.append(_plain_ceil_output(size, k, s, d, pb, pe))
        else:
            spatial.append(window_output(size, k, s, d, pb, pe, auto_pad, rounding != "floor"))
    return (*data.shape[:2], *spatial)


@register
class MaxPool(OpSpec):
    """MaxPool-14: the maximum of each window; output 1 holds the index of each maximum in
    the input flattened from `axis` on (0: over N, C and the spatial axes, as ONNX counts)."""

    type = "MaxPool"
    version = "opset14"
    attributes = ("strides", "dilations", "pads_begin", "pads_end", "kernel", "rounding_type",
                  "auto_pad", "index_element_type", "axis")

    @staticmethod
    def infer(node):
        shape = _pool_shape(node)
        return [(shape, node.inputs[0].element_type),
                (shape, node.attrs.get("index_element_type", "i64"))]


@register
class AvgPool(OpSpec):
    """AvgPool-14: the mean of each window, padding left out when `exclude-pad`."""

    type = "AvgPool"
    version = "opset14"
    attributes = ("strides", "pads_begin", "pads_end", "kernel", "exclude-pad", "rounding_type",
                  "auto_pad")

    @staticmethod
    def infer(node):
        return [(_pool_shape(node), node.inputs[0].element_type)]
