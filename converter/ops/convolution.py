"""Convolution and GroupConvolution (NCHW data, OIHW / GOIHW weights, any spatial rank)."""
import numpy as np

from ._shapes import const_ints, window_output
from . import OpSpec, register

_ATTRIBUTES = ("strides", "dilations", "pads_begin", "pads_end", "auto_pad")


def _spatial(node, data_shape, kernel):
    a = node.attrs
    return [
        window_output(size, k, s, d, pb, pe, a.get("auto_pad", "explicit"))
        for size, k, s, d, pb, pe in zip(data_shape[2:], kernel, a["strides"], a["dilations"],
                                          a["pads_begin"], a["pads_end"])
    ]


@register
class Convolution(OpSpec):
    type = "Convolution"
    attributes = _ATTRIBUTES

    @staticmethod
    def infer(node):
        data, weights = node.inputs
        if data.shape is None or weights.shape is None:
            return [(None, data.element_type)]
        if data.shape[1] not in (-1, weights.shape[1]):
            raise ValueError(f"data has {data.shape[1]} channels, weights expect {weights.shape[1]}")
        shape = (data.shape[0], weights.shape[0], *_spatial(node, data.shape, weights.shape[2:]))
        return [(shape, data.element_type)]


@register
class GroupConvolution(OpSpec):
    type = "GroupConvolution"
    attributes = _ATTRIBUTES

    @staticmethod
    def infer(node):
        data, weights = node.inputs  # weights: [groups, out/groups, in/groups, *kernel]
        if data.shape is None or weights.shape is None:
            return [(None, data.element_type)]
        groups, per_group_out, per_group_in = weights.shape[:3]
        if data.shape[1] not in (-1, groups * per_group_in):
            raise ValueError(f"data has {data.shape[1]} channels, weights expect "
                             f"{groups} groups x {per_group_in}")
        shape = (data.shape[0], groups * per_group_out, *_spatial(node, data.shape, weights.shape[3:]))
        return [(shape, data.element_type)]


def as_group_weights(weights: np.ndarray, groups: int) -> np.ndarray:
    """[O, I/groups, *k] -> [groups, O/groups, I/groups, *k], the GroupConvolution layout."""
    out_channels = weights.shape[0]
    return weights.reshape(groups, out_channels // groups, *weights.shape[1:])


# -- transposed convolution ---------------------------------------------------------------------

_BACKPROP_ATTRIBUTES = ("strides", "dilations", "pads_begin", "pads_end", "auto_pad",
                        "output_padding")


def backprop_output(size: int, kernel: int, stride: int, dilation: int, pad_begin: int,
                    pad_end: int, output_padding: int) -> int:
    """Output length of a transposed convolution along one spatial axis (explicit pads)."""
    if size == -1:
        return -1
    return stride * (size - 1) + dilation * (kernel - 1) + 1 - pad_begin - pad_end + output_padding


def _backprop_spatial(node, data_shape, kernel):
    a = node.attrs
    spatial = len(kernel)
    output_padding = a.get("output_padding") or [0] * spatial
    if len(node.inputs) > 2:  # an explicit output_shape input gives the spatial sizes
        sizes = const_ints(node.inputs[2])
        return [-1] * spatial if sizes is None else sizes
    if a.get("auto_pad", "explicit") in ("same_upper", "same_lower"):
        return [-1 if d == -1 else d * s for d, s in zip(data_shape[2:], a["strides"])]
    pads_begin, pads_end = a["pads_begin"], a["pads_end"]
    if a.get("auto_pad") == "valid":
        pads_begin = pads_end = [0] * spatial
    return [backprop_output(*args) for args in zip(data_shape[2:], kernel, a["strides"],
                                                   a["dilations"], pads_begin, pads_end,
                                                   output_padding)]


@register
class ConvolutionBackpropData(OpSpec):
    """Transposed convolution; weights [C_in, C_out, *kernel]."""

    type = "ConvolutionBackpropData"
    attributes = _BACKPROP_ATTRIBUTES

    @staticmethod
    def infer(node):
        data, weights = node.inputs[:2]
        if data.shape is None or weights.shape is None:
            return [(None, data.element_type)]
        if data.shape[1] not in (-1, weights.shape[0]):
            raise ValueError(f"data has {data.shape[1]} channels, weights expect "
                             f"{weights.shape[0]}")
        shape = (data.shape[0], weights.shape[1],
                 *_backprop_spatial(node, data.shape, weights.shape[2:]))
        return [(shape, data.element_type)]


@register
class GroupConvolutionBackpropData(OpSpec):
    """Grouped transposed convolution; weights [groups, C_in/groups, C_out/groups, *kernel]."""

    type = "GroupConvolutionBackpropData"
    attributes = _BACKPROP_ATTRIBUTES

    @staticmethod
    def infer(node):
        data, weights = node.inputs[:2]
        if data.shape is None or weights.shape is None:
            return [(None, data.element_type)]
        groups, per_group_in, per_group_out = weights.shape[:3]
        if data.shape[1] not in (-1, groups * per_group_in):
            raise ValueError(f"data has {data.shape[1]} channels, weights expect "
                             f"{groups} groups x {per_group_in}")
        shape = (data.shape[0], groups * per_group_out,
                 *_backprop_spatial(node, data.shape, weights.shape[3:]))
        return [(shape, data.element_type)]


# -- deformable convolution ---------------------------------------------------------------------

@register
class DeformableConvolution(OpSpec):
    """DeformableConvolution-8: inputs data, offsets, weights [C_out, C_in/group, *kernel] and
    an optional mask; 2-D only."""

    type = "DeformableConvolution"
    version = "opset8"
    attributes = ("strides", "dilations", "pads_begin", "pads_end", "auto_pad", "group",
                  "deformable_group", "bilinear_interpolation_pad")

    @staticmethod
    def infer(node):
        data, _, weights = node.inputs[:3]
        if data.shape is None or weights.shape is None:
            return [(None, data.element_type)]
        shape = (data.shape[0], weights.shape[0], *_spatial(node, data.shape, weights.shape[2:]))
        return [(shape, data.element_type)]
