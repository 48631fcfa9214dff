"""An Object Detection API SSD export, converted as the Model Optimizer converted it.

Steps: read the pipeline.config and refuse what is not an SSD with ssd_anchor_generator; find
the export's parts in the GraphDef (`ssd_graph`); cut the preprocessing resize loop
(`preprocessor`); translate only what the box encodings and the class predictions need, with
`image_tensor` as the model's input at the model's own size; then replace the Postprocessor by
one DetectionOutput (`postprocessor`) named `detection_out`, [1, 1, R, 7] rows
[image_id, label, confidence, xmin, ymin, xmax, ymax], whose labels are the graph's
detection_classes. No loop and no TensorArray is left.
"""
from __future__ import annotations

import logging

import numpy as np

from ....errors import UserInputError
from ....graph import Graph, Output
from ....options import ConversionOptions
from ..tensors import tensor_value
from ..translate import translate
from .config import PipelineConfig, read_pipeline_config
from .postprocessor import OUTPUT_NAME, anchors_for, detection_output
from .preprocessor import cut_resize_loop
from .replacement_config import SsdRules, ssd_rules
from .ssd_graph import SsdGraph, find_ssd_graph, mismatch

log = logging.getLogger("converter")

SUPPORTED = "an SSD (meta-architecture ssd) with ssd_anchor_generator is what is supported"
# the Object Detection API's outputs, which DetectionOutput stands for
DETECTION_OUTPUTS = frozenset({"detection_boxes", "detection_scores", "detection_classes",
                               "num_detections", OUTPUT_NAME})
SCALE_LOGITS = "Postprocessor/scale_logits"


def convert_ssd(graph_def, options: ConversionOptions) -> Graph:
    """The SSD GraphDef as a Graph ending in one DetectionOutput."""
    rules = _requested_rules(options)
    config = supported_config(options.tensorflow_object_detection_api_pipeline_config)
    _check_outputs(options)
    nodes = {node.name: node for node in graph_def.node}
    parts = find_ssd_graph(nodes, config.path)
    graph_def = cut_resize_loop(graph_def, parts.loop)
    graph = translate(graph_def, _translation_options(options, config, parts))
    boxes, classes, *predictor_outputs = [result.inputs[0] for result in graph.results]
    image_size = _image_size(graph, config)
    anchors = anchors_for(config, [_spatial(o, config) for o in predictor_outputs], image_size)
    _forget_translation_outputs(graph)
    detections = detection_output(graph, boxes, classes, anchors, config, rules,
                                  _score_scale(nodes, config))
    graph.result(detections, OUTPUT_NAME)
    return graph


def _requested_rules(options: ConversionOptions) -> SsdRules:
    value = options.transformations_config
    rules = ssd_rules(value) if value else SsdRules()
    if not options.tensorflow_object_detection_api_pipeline_config:
        raise UserInputError(f"--transformations_config {value} asks for the Object Detection "
                             f"API SSD replacement, which needs the model's pipeline.config: "
                             f"give --tensorflow_object_detection_api_pipeline_config")
    return rules


def supported_config(path: str) -> PipelineConfig:
    """The pipeline.config at `path`, refused unless it describes a convertible SSD."""
    config = read_pipeline_config(path)
    if config.meta_architecture != "ssd":
        raise UserInputError(f"pipeline config {path}: meta-architecture "
                             f"{config.meta_architecture!r} is not supported; {SUPPORTED}")
    if config.anchor_generator != "ssd_anchor_generator" or config.anchors is None:
        kind = config.anchor_generator or "none"
        extra = " (a feature pyramid network)" if kind == "multiscale_anchor_generator" else ""
        raise UserInputError(f"pipeline config {path}: anchor generator {kind}{extra} is not "
                             f"supported; {SUPPORTED}")
    if config.box_coder not in ("", "faster_rcnn_box_coder"):
        raise UserInputError(f"pipeline config {path}: box coder {config.box_coder} is not "
                             f"supported; {SUPPORTED} and the faster_rcnn_box_coder")
    return config


def _check_outputs(options: ConversionOptions) -> None:
    """`--output` may name the Object Detection API's outputs (DetectionOutput replaces them)."""
    other = [name for name in options.output if name.split(":")[0] not in DETECTION_OUTPUTS]
    if other:
        raise UserInputError(f"--output {', '.join(other)}: with the Object Detection API "
                             f"pipeline config the Postprocessor is replaced by one "
                             f"DetectionOutput ({OUTPUT_NAME}); --output may name only "
                             f"{', '.join(sorted(DETECTION_OUTPUTS))}, or be left out")


def _translation_options(options: ConversionOptions, config: PipelineConfig,
                         parts: SsdGraph) -> ConversionOptions:
    """Translate the predictions and the predictor convolutions (their shapes give the feature
    maps), from `image_tensor` at the model's own size unless the flags give it."""
    outputs = (parts.box_encodings, parts.class_predictions, *parts.box_predictor_convs)
    changes = {"output": outputs}
    if not options.input_shape and not any(cut.shape for cut in options.input):
        changes["input_shape"] = (_configured_input_shape(config, parts.image_input),)
    return options.replace(**changes)


def _configured_input_shape(config: PipelineConfig, image_input: str) -> tuple[int, ...]:
    if config.resizer != "fixed_shape_resizer":
        raise UserInputError(f"pipeline config {config.path}: the {config.resizer or 'image'} "
                             f"resizer gives no fixed input size; give --input_shape, e.g. "
                             f"--input_shape [1,600,600,3] for {image_input}")
    return (1, config.height, config.width, 3)


def _image_size(graph: Graph, config: PipelineConfig) -> tuple[int, int]:
    """(height, width) of the model's input image, which must be static."""
    shape = graph.parameters[0].outputs[0].shape if len(graph.parameters) == 1 else None
    if shape is None or len(shape) != 4 or -1 in shape[1:3]:
        raise UserInputError(f"the SSD model's input must be one image batch [N, H, W, C] of "
                             f"static height and width, got {shape}; give --input_shape")
    configured = (config.height, config.width)
    if config.resizer == "fixed_shape_resizer" and tuple(shape[1:3]) != configured:
        log.warning("pipeline config %s resizes images to %dx%d, but the model input is %dx%d: "
                    "the converted model runs at the input size without resizing",
                    config.path, config.height, config.width, shape[1], shape[2])
    return int(shape[1]), int(shape[2])


def _spatial(predictor_output: Output, config: PipelineConfig) -> tuple[int, int]:
    shape = predictor_output.shape
    if shape is None or len(shape) != 4 or -1 in shape[1:3]:
        raise mismatch(config.path, f"a box predictor's output {shape} has no static feature "
                                    f"map size")
    return int(shape[1]), int(shape[2])


def _forget_translation_outputs(graph: Graph) -> None:
    """Drop the results translation added: their tensors are inner tensors now."""
    for result in graph.results:
        result.inputs[0].info.names.clear()
    graph.results = []


def _score_scale(nodes: dict, config: PipelineConfig) -> float:
    """What the graph multiplies the class logits by before the score converter: the constant
    of its scale_logits Mul when present (exactly what it computes), else 1/logit_scale."""
    node = nodes.get(SCALE_LOGITS)
    if node is not None and node.op == "Mul":
        for ref in node.input:
            source = nodes.get(ref.split(":")[0])
            if source is not None and source.op == "Const":
                value = np.ravel(tensor_value(source.attr["value"].tensor, source.name))
                if value.size == 1:
                    return float(value[0])
    return 1.0 / config.logit_scale
