"""Convolution and GroupConvolution (NCHW data, OIHW / GOIHW weights, any spatial rank)."""
import numpy as np

from ._shapes import window_output
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
