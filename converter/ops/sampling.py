"""Ops that sample a feature map at computed positions: GridSample (a sampling grid) and
ROIAlign (regions of interest pooled to a fixed size)."""
from __future__ import annotations

from . import OpSpec, register


def _rank_check(what: str, shape, rank: int) -> None:
    if shape is not None and len(shape) != rank:
        raise ValueError(f"{what} must have rank {rank}, not {len(shape)}")


@register
class GridSample(OpSpec):
    """GridSample-9: `data` [N, C, H, W] sampled at the normalized (x, y) positions of `grid`
    [N, H_out, W_out, 2]; the result is [N, C, H_out, W_out]."""

    type = "GridSample"
    version = "opset9"
    attributes = ("align_corners", "mode", "padding_mode")

    @staticmethod
    def infer(node):
        data, grid = node.inputs
        _rank_check("GridSample data", data.shape, 4)
        _rank_check("GridSample grid", grid.shape, 4)
        if data.shape is None and grid.shape is None:
            return [(None, data.element_type)]
        n, c = (data.shape[:2] if data.shape is not None else (-1, -1))
        height, width = (grid.shape[1:3] if grid.shape is not None else (-1, -1))
        if n == -1 and grid.shape is not None:
            n = grid.shape[0]
        return [((n, c, height, width), data.element_type)]


@register
class ROIAlign(OpSpec):
    """ROIAlign-9: each box of `rois` [R, 4] (x1, y1, x2, y2) on image `batch_indices[r]` of
    `data` [N, C, H, W] pooled to [R, C, pooled_h, pooled_w]."""

    type = "ROIAlign"
    version = "opset9"
    attributes = ("pooled_h", "pooled_w", "sampling_ratio", "spatial_scale", "mode",
                  "aligned_mode")

    @staticmethod
    def infer(node):
        data, rois, _ = node.inputs
        _rank_check("ROIAlign data", data.shape, 4)
        _rank_check("ROIAlign rois", rois.shape, 2)
        count = rois.shape[0] if rois.shape is not None else -1
        channels = data.shape[1] if data.shape is not None else -1
        return [((count, channels, int(node.attrs["pooled_h"]), int(node.attrs["pooled_w"])),
                 data.element_type)]
