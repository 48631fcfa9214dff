"""converter.ops.detection: DetectionOutput-8 as OpenVINO defines it (shape rules, attributes,
the IR text of its list attribute) and as OpenVINO runs it."""
from __future__ import annotations

import numpy as np
import pytest

from converter.errors import ShapeMismatchError
from converter.graph import Graph
from converter.ir.writer import write_ir
from modelzoo.runtime import run_openvino

CENTER_SIZE = "caffe.PriorBoxParameter.CENTER_SIZE"


def attributes(**changes) -> dict:
    attrs = {"background_label_id": 0, "top_k": -1, "variance_encoded_in_target": False,
             "keep_top_k": [10], "code_type": CENTER_SIZE, "share_location": True,
             "nms_threshold": 0.5, "confidence_threshold": 0.01, "clip_after_nms": False,
             "clip_before_nms": False, "decrease_label_id": False, "normalized": True,
             "input_height": 1, "input_width": 1, "objectness_score": 0.0}
    attrs.update(changes)
    return attrs


def detection_graph(priors: int, classes: int, batch: int = 1, **changes):
    g = Graph("det")
    boxes = g.parameter("boxes", (batch, priors * 4), "f32")
    scores = g.parameter("scores", (batch, priors * classes), "f32")
    prior_boxes = g.parameter("priors", (1, 2, priors * 4), "f32")
    out = g.add("DetectionOutput", [boxes, scores, prior_boxes], attributes(**changes),
                name="detection_out").output()
    g.result(out, "detection_out")
    return g, out


def openvino_shape(priors: int, classes: int, batch: int = 1, **changes):
    import openvino.opset8 as ops

    attrs = attributes(**changes)
    for key in ("clip_after_nms", "clip_before_nms", "decrease_label_id", "objectness_score",
                "input_height", "input_width", "variance_encoded_in_target"):
        attrs.pop(key)
    node = ops.detection_output(ops.parameter([batch, priors * 4], np.float32),
                                ops.parameter([batch, priors * classes], np.float32),
                                ops.parameter([1, 2, priors * 4], np.float32), attrs)
    return tuple(node.get_output_partial_shape(0).to_shape())


@pytest.mark.parametrize("changes", [
    {"keep_top_k": [100], "top_k": 50},
    {"keep_top_k": [-1], "top_k": 5},
    {"keep_top_k": [-1], "top_k": -1},
    {"keep_top_k": [-1], "top_k": 50, "batch": 2},
    {"keep_top_k": [7], "batch": 3},
])
def test_output_shape_follows_openvino(changes):
    batch = changes.pop("batch", 1)
    _, out = detection_graph(10, 21, batch, **changes)
    assert out.shape == openvino_shape(10, 21, batch, **changes)
    assert out.element_type == "f32"


def test_bad_inputs_are_shape_errors():
    g = Graph()
    boxes = g.parameter("boxes", (1, 40), "f32")
    scores = g.parameter("scores", (1, 33), "f32")  # not a multiple of the 10 priors
    priors = g.parameter("priors", (1, 2, 40), "f32")
    with pytest.raises(ShapeMismatchError, match="do not divide"):
        g.add("DetectionOutput", [boxes, scores, priors], attributes(keep_top_k=[-1]))
    with pytest.raises(ShapeMismatchError, match="code_type"):
        g.add("DetectionOutput", [boxes, g.parameter("s", (1, 30), "f32"), priors],
              attributes(code_type="CENTER"))


def test_ir_text_and_openvino_run(tmp_path):
    """Two priors, two classes (0 = background): the IR text OpenVINO reads, and detections
    decoded with the variances (CENTER_SIZE) and suppressed per class."""
    g, _ = detection_graph(2, 2, keep_top_k=[3], top_k=2, confidence_threshold=0.1)
    xml, _ = write_ir(g, tmp_path / "det.xml")
    text = xml.read_text()
    assert 'keep_top_k="3"' in text and 'code_type="caffe.PriorBoxParameter.CENTER_SIZE"' in text
    assert 'version="opset8"' in text
    priors = np.array([[[0.1, 0.1, 0.3, 0.5, 0.5, 0.5, 0.9, 0.7],
                        [0.1, 0.1, 0.2, 0.2, 0.1, 0.1, 0.2, 0.2]]], np.float32)
    boxes = np.array([[1.0, 0, 0, 0, 0, 0, 0, 0]], np.float32)  # prior 0 moved right
    scores = np.array([[0.2, 0.8, 0.6, 0.4]], np.float32)
    out = run_openvino(xml, {"boxes": boxes, "scores": scores, "priors": priors})["detection_out"]
    rows = out[0, 0][out[0, 0, :, 0] >= 0]
    # prior 0: center x 0.2 + 0.1 * 1.0 * width 0.2 -> 0.22; size unchanged
    np.testing.assert_allclose(rows[0], [0, 1, 0.8, 0.12, 0.1, 0.32, 0.5], atol=1e-6)
    np.testing.assert_allclose(rows[1], [0, 1, 0.4, 0.5, 0.5, 0.9, 0.7], atol=1e-6)
    assert len(rows) == 2
