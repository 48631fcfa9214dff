"""NonMaxSuppression-9: per image and class, the boxes kept by greedy non-maximum suppression.

Its outputs have a size known only at run time: selected_indices [?, 3] (image, class, box),
selected_scores [?, 3] (image, class, score) and valid_outputs [1], the number selected."""
from __future__ import annotations

from . import OpSpec, register


@register
class NonMaxSuppression(OpSpec):
    type = "NonMaxSuppression"
    version = "opset9"
    attributes = ("box_encoding", "sort_result_descending", "output_type")

    @staticmethod
    def infer(node):
        boxes, scores = node.inputs[:2]
        if boxes.shape is not None and (len(boxes.shape) != 3 or boxes.shape[2] not in (4, -1)):
            raise ValueError(f"boxes must be [batch, boxes, 4], not {list(boxes.shape)}")
        if scores.shape is not None and len(scores.shape) != 3:
            raise ValueError(f"scores must be [batch, classes, boxes], not {list(scores.shape)}")
        index_type = node.attrs.get("output_type", "i64")
        return [((-1, 3), index_type), ((-1, 3), scores.element_type), ((1,), index_type)]
