"""The anchors an Object Detection API SSD graph computes, recomputed in numpy.

An SSD graph builds its anchors from the `ssd_anchor_generator` config with a multiple-grid
anchor generator: one grid of boxes per feature map, concatenated in feature-map order. Within
a feature map the boxes are ordered by grid row, then column, then box within the location
(the order of `layer_box_specs`). Each box is (ymin, xmin, ymax, xmax) in coordinates
normalized to the image, and is not clipped (boxes at the border reach below 0 and above 1).

The arithmetic follows the graph's own: scales computed in double precision from the config's
single-precision values, then every tensor operation in float32, so the result matches the
graph's `Concatenate/concat` to float32 rounding.
"""
from __future__ import annotations

import math

import numpy as np

from .config import SsdAnchors

__all__ = ["boxes_per_location", "layer_box_specs", "layer_scales", "ssd_anchors"]

_F32 = np.float32
_LOWEST_LAYER_SMALL_SCALE = 0.1


def _proto_float(value: float) -> float:
    """The value as the config's float fields hold it (single precision), back as a double."""
    return float(_F32(value))


def layer_scales(anchors: SsdAnchors) -> list[float]:
    """The scale of each layer followed by 1.0 (the "next scale" of the last layer): the
    explicit `scales` when given, else evenly spaced from min_scale to max_scale."""
    if anchors.scales:
        return [_proto_float(s) for s in anchors.scales] + [1.0]
    if anchors.num_layers < 2:
        raise ValueError(f"ssd_anchor_generator with num_layers {anchors.num_layers} needs "
                         f"explicit scales (min_scale..max_scale spans at least two layers)")
    low, high = _proto_float(anchors.min_scale), _proto_float(anchors.max_scale)
    step_count = anchors.num_layers - 1
    return [low + (high - low) * i / step_count for i in range(anchors.num_layers)] + [1.0]


def layer_box_specs(anchors: SsdAnchors) -> list[list[tuple[float, float]]]:
    """(scale, aspect ratio) of each box at a grid location, per layer, in box order.
    With explicit scales there are min(num_layers, len(scales)) layers."""
    scales = layer_scales(anchors)
    ratios = [_proto_float(r) for r in anchors.aspect_ratios]
    interpolated_ratio = _proto_float(anchors.interpolated_scale_aspect_ratio)
    specs = []
    for layer, (scale, next_scale) in enumerate(zip(scales[:-1], scales[1:])):
        if layer >= anchors.num_layers:
            break
        if layer == 0 and anchors.reduce_boxes_in_lowest_layer:
            specs.append([(_LOWEST_LAYER_SMALL_SCALE, 1.0), (scale, 2.0), (scale, 0.5)])
            continue
        boxes = [(scale, ratio) for ratio in ratios]
        if interpolated_ratio > 0.0:
            boxes.append((math.sqrt(scale * next_scale), interpolated_ratio))
        specs.append(boxes)
    return specs


def boxes_per_location(anchors: SsdAnchors) -> list[int]:
    """How many boxes each layer has at every grid location (the box predictors' count)."""
    return [len(boxes) for boxes in layer_box_specs(anchors)]


def ssd_anchors(anchors: SsdAnchors, feature_maps: list[tuple[int, int]],
                image_size: tuple[int, int] | None = None) -> np.ndarray:
    """[N, 4] float32 anchors (ymin, xmin, ymax, xmax), normalized, for feature maps of these
    (height, width), in the graph's order; N = sum of height * width * boxes per location.

    `image_size` is the (height, width) of the resized image the graph feeds its feature
    extractor (the image resizer's output). An SSD graph passes it to the generator, which
    uses it twice: base anchor sizes are scaled by min(height, width) / height and
    min(height, width) / width, so boxes are square in pixels on non-square images; and
    explicit strides and offsets, given in pixels, are divided by it. None is the generator's
    own default, a 1 x 1 image: right for square images without explicit strides only.
    """
    specs = layer_box_specs(anchors)
    if len(feature_maps) != len(specs):
        raise ValueError(f"{len(feature_maps)} feature maps given for an anchor generator of "
                         f"{len(specs)} layers")
    image_height, image_width = (_F32(v) for v in (image_size or (1, 1)))
    shortest = min(image_height, image_width)
    base_height = shortest / image_height * _F32(anchors.base_anchor_height)
    base_width = shortest / image_width * _F32(anchors.base_anchor_width)
    strides, offsets = _strides_and_offsets(anchors, feature_maps, image_height, image_width)
    grids = [_grid_anchors(grid, boxes, (base_height, base_width), stride, offset)
             for grid, boxes, stride, offset in zip(feature_maps, specs, strides, offsets)]
    return np.concatenate(grids, axis=0)


def _strides_and_offsets(anchors: SsdAnchors, feature_maps: list[tuple[int, int]],
                         image_height: np.float32, image_width: np.float32):
    """Per layer the (y, x) distance between grid centers and the first center's position,
    normalized: 1 / grid size and half of it unless the config gives them in pixels."""
    layers = len(feature_maps)
    if anchors.height_stride or anchors.width_stride:
        strides = [(_F32(h) / image_height, _F32(w) / image_width) for h, w in
                   _per_layer(anchors.height_stride, anchors.width_stride, "stride", layers)]
    else:
        strides = [(_F32(1.0) / _F32(h), _F32(1.0) / _F32(w)) for h, w in feature_maps]
    if anchors.height_offset or anchors.width_offset:
        offsets = [(_F32(h) / image_height, _F32(w) / image_width) for h, w in
                   _per_layer(anchors.height_offset, anchors.width_offset, "offset", layers)]
    else:
        offsets = [(_F32(0.5) * y, _F32(0.5) * x) for y, x in strides]
    return strides, offsets


def _per_layer(heights: tuple[int, ...], widths: tuple[int, ...], what: str, layers: int):
    if not len(heights) == len(widths) == layers:
        raise ValueError(f"ssd_anchor_generator gives {len(heights)} height_{what} and "
                         f"{len(widths)} width_{what} values; it needs one of each per layer "
                         f"({layers})")
    return list(zip(heights, widths))


def _grid_anchors(grid: tuple[int, int], boxes: list[tuple[float, float]],
                  base_size: tuple[np.float32, np.float32],
                  stride: tuple[np.float32, np.float32],
                  offset: tuple[np.float32, np.float32]) -> np.ndarray:
    """One layer's anchors, [grid h * grid w * boxes, 4], ordered y, x, box."""
    scales = np.array([scale for scale, _ in boxes], dtype=_F32)
    ratio_roots = np.sqrt(np.array([ratio for _, ratio in boxes], dtype=_F32))
    heights = scales / ratio_roots * base_size[0]
    widths = scales * ratio_roots * base_size[1]
    y_centers = np.arange(grid[0], dtype=_F32) * stride[0] + offset[0]
    x_centers = np.arange(grid[1], dtype=_F32) * stride[1] + offset[1]
    shape = (grid[0], grid[1], len(boxes))
    centers_y = np.broadcast_to(y_centers[:, None, None], shape).reshape(-1)
    centers_x = np.broadcast_to(x_centers[None, :, None], shape).reshape(-1)
    sizes_y = np.broadcast_to(heights[None, None, :], shape).reshape(-1)
    sizes_x = np.broadcast_to(widths[None, None, :], shape).reshape(-1)
    half = _F32(0.5)
    return np.stack([centers_y - half * sizes_y, centers_x - half * sizes_x,
                     centers_y + half * sizes_y, centers_x + half * sizes_x], axis=1)
