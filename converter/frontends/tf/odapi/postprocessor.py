"""The SSD Postprocessor as one OpenVINO DetectionOutput.

The Object Detection API decodes each box against its anchor with the faster_rcnn box coder
(ty, tx, th, tw divided by the coder's scales), runs per-class non-maximum suppression, clips
the kept boxes to the image window and keeps the best `max_total_detections`. DetectionOutput
does the same from: the box encodings in its (x, y, w, h) order, the scores after the config's
score converter, and the priors (anchors as xmin, ymin, xmax, ymax, then the variances
1/scale in x, y, w, h order), computed here from the config for the graph's feature maps.
"""
from __future__ import annotations

import logging

import numpy as np

from ....graph import Graph, Output
from .anchors import ssd_anchors
from .config import PipelineConfig
from .replacement_config import SsdRules
from .ssd_graph import mismatch

log = logging.getLogger("converter")

# TF's (y, x, h, w) and (ymin, xmin, ymax, xmax) -> DetectionOutput's (x, y, w, h) and
# (xmin, ymin, xmax, ymax): the same swap of neighbours
YX_TO_XY = [1, 0, 3, 2]
BOX_SIZE = 4
OUTPUT_NAME = "detection_out"


def detection_output(graph: Graph, box_encodings: Output, class_predictions: Output,
                     anchors: np.ndarray, config: PipelineConfig, rules: SsdRules,
                     score_scale: float) -> Output:
    """DetectionOutput over the box predictors' outputs; `score_scale` multiplies the class
    logits before the score converter (TF's scale_logits)."""
    priors = anchors.shape[0]
    boxes = _box_logits(graph, box_encodings, priors, config.path)
    scores = _class_scores(graph, class_predictions, priors, config, score_scale)
    prior_boxes = graph.const(prior_tensor(anchors, config.box_coder_scales), name="priors")
    return graph.add("DetectionOutput", [boxes, scores, prior_boxes],
                     detection_attributes(config, rules, priors), name=OUTPUT_NAME).output()


def prior_tensor(anchors: np.ndarray, box_coder_scales) -> np.ndarray:
    """[1, 2, N*4] f32: the anchors as (xmin, ymin, xmax, ymax), then the variances."""
    corners = np.asarray(anchors, dtype=np.float32)[:, YX_TO_XY].reshape(-1)
    variances = (1.0 / np.asarray(box_coder_scales, dtype=np.float64))[YX_TO_XY]
    tiled = np.tile(variances.astype(np.float32), anchors.shape[0])
    return np.stack([corners, tiled])[np.newaxis]


def detection_attributes(config: PipelineConfig, rules: SsdRules, priors: int) -> dict:
    """DetectionOutput's attributes for the config's post_processing.

    top_k is max_detections_per_class: per class, NMS runs over that many best candidates,
    as the Model Optimizer's replacement did. The Object Detection API suppresses over every
    box of a class, so a class whose best boxes suppress each other may reach further down;
    such a box scores below that class's kept ones and lands at the end of the list, where
    verification compares with care. Running NMS over every prior instead costs about 40
    times the latency (335 ms against 8 ms for a full-size SSD MobileNet V2 on two cores) for
    no difference seen on the test exports. Boxes are clipped after NMS, as the
    graph clips the boxes NMS kept to the image window (a replacement config may say
    otherwise)."""
    if config.max_detections_per_class < config.max_total_detections:
        log.warning("pipeline config %s: max_detections_per_class (%d) is below "
                    "max_total_detections (%d); DetectionOutput has no per-class limit, so a "
                    "class may contribute more detections than the Object Detection API keeps",
                    config.path, config.max_detections_per_class, config.max_total_detections)
    clip_before = False if rules.clip_before_nms is None else rules.clip_before_nms
    clip_after = True if rules.clip_after_nms is None else rules.clip_after_nms
    return {
        "background_label_id": 0,
        "top_k": min(priors, config.max_detections_per_class),
        "variance_encoded_in_target": False,
        "keep_top_k": [config.max_total_detections],
        "code_type": "caffe.PriorBoxParameter.CENTER_SIZE",
        "share_location": True,
        "nms_threshold": float(config.iou_threshold),
        "confidence_threshold": float(config.score_threshold),
        "clip_after_nms": clip_after,
        "clip_before_nms": clip_before,
        "decrease_label_id": False,
        "normalized": True,
        "input_height": 1,
        "input_width": 1,
        "objectness_score": 0.0,
    }


def _box_logits(graph: Graph, encodings: Output, priors: int, config_path: str) -> Output:
    """[B, N, (1,) 4] (ty, tx, th, tw) -> [B, N*4] (tx, ty, tw, th)."""
    shape = encodings.shape
    if shape is None or shape[-1] != BOX_SIZE or int(np.prod(shape[1:])) != priors * BOX_SIZE:
        raise mismatch(config_path, f"the box encodings {_text(shape)} do not hold 4 values for "
                                    f"each of the {priors} anchors the config gives")
    boxes = _reshape(graph, encodings, [0, -1, BOX_SIZE], "box_encodings/reshape")
    boxes = graph.op("Gather", boxes, graph.const(np.array(YX_TO_XY, np.int64)),
                     graph.const(np.array(2, np.int64)), batch_dims=0,
                     name="box_encodings/xy_order")
    return _reshape(graph, boxes, [0, -1], "box_encodings/flatten")


def _class_scores(graph: Graph, logits: Output, priors: int, config: PipelineConfig,
                  score_scale: float) -> Output:
    """[B, N, C+1] logits -> [B, N*(C+1)] scores through the config's score converter."""
    classes = config.num_classes + 1
    if logits.shape is None or tuple(logits.shape[1:]) != (priors, classes):
        raise mismatch(config.path, f"the class predictions {_text(logits.shape)} are not "
                                    f"[batch, {priors}, {classes}] ({priors} anchors, "
                                    f"num_classes {config.num_classes} and background)")
    scores = logits
    if score_scale != 1.0:
        scores = graph.op("Multiply", scores, graph.const(np.float32(score_scale)),
                          auto_broadcast="numpy", name="class_predictions/scale_logits")
    converter = config.score_converter.upper()
    if converter == "SIGMOID":
        scores = graph.op("Sigmoid", scores, name="class_predictions/sigmoid")
    elif converter == "SOFTMAX":
        scores = graph.op("SoftMax", scores, axis=-1, name="class_predictions/softmax")
    elif converter != "IDENTITY":
        raise mismatch(config.path, f"score_converter {config.score_converter} is not one of "
                                    f"SIGMOID, SOFTMAX, IDENTITY")
    return _reshape(graph, scores, [0, -1], "class_predictions/flatten")


def _reshape(graph: Graph, data: Output, pattern: list[int], name: str) -> Output:
    return graph.op("Reshape", data, graph.const(np.array(pattern, np.int64)), special_zero=True,
                    name=name)


def _text(shape) -> str:
    return "of unknown shape" if shape is None else str(list(shape))


def anchors_for(config: PipelineConfig, feature_maps: list[tuple[int, int]],
                image_size: tuple[int, int]) -> np.ndarray:
    """The config's SSD anchors for these feature maps; `mismatch` when the counts differ."""
    try:
        return ssd_anchors(config.anchors, feature_maps, image_size)
    except ValueError as exc:
        raise mismatch(config.path, f"its {len(feature_maps)} box predictors do not fit the "
                                    f"anchor generator ({exc})") from None
