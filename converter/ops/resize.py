"""Interpolate-11: resizing by scales or to sizes, over all axes or the given `axes`."""
from __future__ import annotations

import numpy as np

from ._shapes import const_ints, normalize_axis
from . import OpSpec, register


def _resized_axes(node, rank: int) -> list[int] | None:
    if len(node.inputs) < 3:
        return list(range(rank))
    axes = const_ints(node.inputs[2])
    return None if axes is None else [normalize_axis(a, rank) for a in axes]


def _target_sizes(node, data_shape, axes: list[int]) -> list[int] | None:
    """The output length of each resized axis, or None while the scales or sizes are not
    constant (the lengths are then dynamic)."""
    values = node.inputs[1].value
    if values is None:
        return None
    values = np.ravel(values)
    if len(values) != len(axes):
        raise ValueError(f"{len(values)} scales or sizes for {len(axes)} axes")
    if node.attrs["shape_calculation_mode"] == "sizes":
        return [int(v) for v in values]
    pads = [b + e for b, e in zip(node.attrs.get("pads_begin") or [0] * len(data_shape),
                                  node.attrs.get("pads_end") or [0] * len(data_shape))]
    return [-1 if data_shape[a] == -1 else
            int(np.floor((data_shape[a] + pads[a]) * float(v) + 1e-5))
            for a, v in zip(axes, values)]


@register
class Interpolate(OpSpec):
    type = "Interpolate"
    version = "opset11"
    attributes = ("mode", "shape_calculation_mode", "coordinate_transformation_mode",
                  "nearest_mode", "antialias", "pads_begin", "pads_end", "cube_coeff")

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        if data.shape is None:
            return [(None, data.element_type)]
        rank = len(data.shape)
        axes = _resized_axes(node, rank)
        if axes is None:  # axes known only at run time: any axis may change
            return [((-1,) * rank, data.element_type)]
        sizes = _target_sizes(node, data.shape, axes)
        shape = list(data.shape)
        for i, axis in enumerate(axes):
            shape[axis] = -1 if sizes is None else sizes[i]
        return [(tuple(shape), data.element_type)]
