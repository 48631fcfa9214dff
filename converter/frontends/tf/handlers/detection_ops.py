"""NonMaxSuppressionV2..V5 as OpenVINO's NonMaxSuppression-9.

TensorFlow's boxes are [N, 4] and scores [N] for one image and one class; OpenVINO's are
[batch, N, 4] and [batch, classes, N], and it returns (image, class, box) triples: the box
column is TensorFlow's selected_indices. Both keep the boxes in descending score order.
    V2: boxes, scores, max_output_size, iou_threshold
    V3: ... + score_threshold
    V4: ... + pad_to_max_output_size attribute; outputs (indices, valid_outputs)
    V5: ... + soft_nms_sigma; outputs (indices, scores, valid_outputs)
Padding fills the indices (and scores) up to max_output_size with zeros, as TensorFlow does.
"""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import TFNodeContext
from . import registry


def _box_column(ctx: TFNodeContext, triples: Output, suffix: str) -> Output:
    """Column 2 (the box index, or the score) of NMS's [M, 3] output, as [M]."""
    return ctx.graph.op("Gather", triples, ctx.ints(2), ctx.ints(1), name=f"{ctx.name}/{suffix}",
                        batch_dims=0)


def _padded(ctx: TFNodeContext, values: Output, max_size: Output, suffix: str) -> Output:
    """`values` [M] followed by zeros up to max_output_size entries."""
    count = ctx.graph.op("ShapeOf", values, name=f"{ctx.name}/{suffix}_count", output_type="i64")
    missing = ctx.graph.op("Subtract", max_size, count, name=f"{ctx.name}/{suffix}_missing",
                           auto_broadcast="numpy")
    return ctx.graph.op("Pad", values, ctx.ints([0]), missing, name=f"{ctx.name}/{suffix}_padded",
                        pad_mode="constant")


@registry.register("NonMaxSuppression", "NonMaxSuppressionV2", "NonMaxSuppressionV3",
                   "NonMaxSuppressionV4", "NonMaxSuppressionV5")
def non_max_suppression(ctx: TFNodeContext):
    version = 1 if ctx.op_type == "NonMaxSuppression" else int(ctx.op_type[-1])
    boxes = ctx.graph.op("Unsqueeze", ctx.input(0), ctx.ints([0]), name=f"{ctx.name}/boxes")
    scores = ctx.graph.op("Unsqueeze", ctx.input(1), ctx.ints([0, 1]), name=f"{ctx.name}/scores")
    max_size = ctx.index_input(2)
    if max_size.element_type != "i64":
        max_size = ctx.helper("Convert", max_size, suffix="max_size", destination_type="i64")
    max_size = ctx.graph.op("Reshape", max_size, ctx.ints([1]), name=f"{ctx.name}/max_count",
                            special_zero=False)
    if version == 1:  # the IoU threshold is an attribute in the first version
        iou = ctx.graph.const(np.float32(ctx.attr("iou_threshold", 0.5)), name=f"{ctx.name}/iou")
    else:
        iou = ctx.input(3)
    score_threshold = (ctx.input(4) if version >= 3 else
                       ctx.graph.const(np.float32(-np.inf), name=f"{ctx.name}/score_threshold"))
    sigma = (ctx.input(5) if version == 5 else
             ctx.graph.const(np.float32(0), name=f"{ctx.name}/sigma"))
    node = ctx.graph.add("NonMaxSuppression", [boxes, scores, max_size, iou, score_threshold,
                                               sigma],
                         {"box_encoding": "corner", "sort_result_descending": True,
                          "output_type": "i32"}, name=f"{ctx.name}/NonMaxSuppression",
                         num_outputs=3)
    indices = _box_column(ctx, node.output(0), "indices")
    selected_scores = _box_column(ctx, node.output(1), "selected_scores")
    valid = ctx.graph.op("Squeeze", node.output(2), ctx.ints([0]), name=f"{ctx.name}/valid")
    if version >= 4 and ctx.attr("pad_to_max_output_size", False):
        indices = _padded(ctx, indices, max_size, "indices")
        selected_scores = _padded(ctx, selected_scores, max_size, "scores")
    if version == 4:
        return [indices, valid]
    if version == 5:
        return [indices, selected_scores, valid]
    return indices
