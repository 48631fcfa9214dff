"""DetectionOutput (opset8): SSD-style box decoding, per-class NMS and top-k selection in one op.

Inputs: box logits [B, P*4] (shared location) or [B, P*C*4], class predictions [B, P*C], and
priors [1 or B, 1 or 2, P*4] (P*5 when not normalized), row 1 holding the variances. The output
is [1, 1, R, 7] rows [image_id, label, confidence, xmin, ymin, xmax, ymax], where R is
B*keep_top_k[0] when that is positive, else B*top_k*C when top_k is positive, else B*P*C (as
OpenVINO's own shape inference gives it; C, the number of classes, is counted from the inputs
since opset8 has no num_classes attribute).
"""
from __future__ import annotations

from . import OpSpec, register

CODE_TYPES = ("caffe.PriorBoxParameter.CORNER", "caffe.PriorBoxParameter.CENTER_SIZE",
              "caffe.PriorBoxParameter.CORNER_SIZE")
DETECTION_FIELDS = 7  # image_id, label, confidence, xmin, ymin, xmax, ymax


@register
class DetectionOutput(OpSpec):
    type = "DetectionOutput"
    version = "opset8"
    attributes = ("background_label_id", "top_k", "variance_encoded_in_target", "keep_top_k",
                  "code_type", "share_location", "nms_threshold", "confidence_threshold",
                  "clip_after_nms", "clip_before_nms", "decrease_label_id", "normalized",
                  "input_height", "input_width", "objectness_score")

    @staticmethod
    def infer(node):
        _check_attributes(node.attrs)
        box_logits, class_preds, priors = node.inputs[:3]
        for name, data, rank in (("box logits", box_logits, 2),
                                 ("class predictions", class_preds, 2), ("priors", priors, 3)):
            if data.shape is not None and len(data.shape) != rank:
                raise ValueError(f"{name} must be {rank}-D, got {list(data.shape)}")
        rows = _detection_count(node.attrs, box_logits.shape, class_preds.shape, priors.shape)
        return [((1, 1, rows, DETECTION_FIELDS), box_logits.element_type)]


def _check_attributes(attrs: dict) -> None:
    if attrs.get("code_type", CODE_TYPES[0]) not in CODE_TYPES:
        raise ValueError(f"code_type {attrs['code_type']!r} is not one of {', '.join(CODE_TYPES)}")
    keep_top_k = attrs.get("keep_top_k")
    if not isinstance(keep_top_k, (list, tuple)) or not keep_top_k:
        raise ValueError(f"keep_top_k must be a non-empty list of integers, got {keep_top_k!r}")


def _detection_count(attrs: dict, box_shape, class_shape, prior_shape) -> int:
    """R of the output [1, 1, R, 7]; -1 when the shapes it depends on are not known."""
    batch = -1 if box_shape is None else box_shape[0]
    keep_top_k, top_k = int(attrs["keep_top_k"][0]), int(attrs.get("top_k", -1))
    if keep_top_k > 0:
        per_image = keep_top_k
    else:
        priors = _prior_count(attrs, prior_shape)
        classes = _class_count(class_shape, priors)
        if classes == -1:
            return -1
        per_image = (top_k if top_k > 0 else priors) * classes
    return -1 if batch == -1 else batch * per_image


def _prior_count(attrs: dict, prior_shape) -> int:
    if prior_shape is None or prior_shape[-1] == -1:
        return -1
    size = 4 if attrs.get("normalized", False) else 5
    if prior_shape[-1] % size:
        raise ValueError(f"the priors' last dimension {prior_shape[-1]} is not a multiple of "
                         f"{size} (coordinates per prior)")
    return prior_shape[-1] // size


def _class_count(class_shape, priors: int) -> int:
    if class_shape is None or class_shape[-1] == -1 or priors in (-1, 0):
        return -1
    if class_shape[-1] % priors:
        raise ValueError(f"class predictions of {class_shape[-1]} values do not divide among "
                         f"{priors} priors")
    return class_shape[-1] // priors
