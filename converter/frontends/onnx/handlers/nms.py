"""NonMaxSuppression: OpenVINO's NonMaxSuppression-9, its padded selected_indices cut to the
valid_outputs rows ONNX returns ([num_selected, 3] i64).

ONNX suppresses a box whose IoU with a kept one is strictly above iou_threshold, OpenVINO at or
above it: the threshold is moved up by one float step so that a box exactly at the threshold
is kept, as ONNX keeps it. A missing score_threshold keeps every score."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.elementwise import binary
from ..context import OnnxNodeContext
from . import registry


def _scalar_input(ctx: OnnxNodeContext, index: int, default: Output, suffix: str) -> Output:
    """An optional one-element input as a 0-D tensor (OpenVINO wants scalars), or `default`."""
    if not ctx.has_input(index):
        return default
    return ctx.helper("Reshape", ctx.input(index), ctx.const(np.array([], np.int64)),
                      suffix=suffix, special_zero=False)


@registry.register("NonMaxSuppression", since=10)
def non_max_suppression(ctx: OnnxNodeContext) -> Output:
    boxes, scores = ctx.input(0), ctx.input(1)
    center = int(ctx.attr("center_point_box", 0))
    if center not in (0, 1):
        raise ctx.error(f"center_point_box {center} is neither 0 nor 1")
    lowest = ctx.scalar(float(np.finfo(np.float32).min), scores)
    max_boxes = _scalar_input(ctx, 2, ctx.const(np.int64(0)), "max_boxes")
    iou = _scalar_input(ctx, 3, ctx.scalar(0, boxes), "iou_threshold")
    above = binary(ctx.graph, "Multiply", iou, ctx.scalar(1 + 2.0 ** -23, iou),
                   name=f"{ctx.name}/iou_strictly_above")
    score = _scalar_input(ctx, 4, lowest, "score_threshold")
    node = ctx.graph.add("NonMaxSuppression",
                         [boxes, scores, max_boxes, above, score, ctx.scalar(0, scores)],
                         {"box_encoding": "center" if center else "corner",
                          "sort_result_descending": False, "output_type": "i64"},
                         name=f"{ctx.name}/nms", num_outputs=3)
    selected, valid = node.output(0), node.output(2)
    return ctx.op("Slice", selected, ctx.const(np.array([0], np.int64)), valid,
                  ctx.const(np.array([1], np.int64)), ctx.const(np.array([0], np.int64)))
