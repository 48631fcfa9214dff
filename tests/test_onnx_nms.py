"""NonMaxSuppression through the ONNX frontend: the onnx wheel's node cases, and what they miss
(optional inputs left out, boxes in center form with many classes, a clear error)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from converter import convert
from converter.errors import ConversionError
from modelzoo.runtime import run_onnxruntime, run_openvino
from tests.onnx_conformance_cases import assert_conforms, case_id, cases_of
from tests.onnx_testing import make_model


@pytest.mark.parametrize("case", cases_of("NonMaxSuppression"), ids=case_id)
def test_node_case_conforms(case):
    assert_conforms(case)


def _nms_model(inputs: list[str], initializers: dict, **attrs) -> onnx.ModelProto:
    node = helper.make_node("NonMaxSuppression", inputs, ["selected"], name="nms", **attrs)
    return make_model([node], {"boxes": ([2, 30, 4], TensorProto.FLOAT),
                               "scores": ([2, 3, 30], TensorProto.FLOAT)},
                      {"selected": (None, TensorProto.INT64)}, 11, initializers)


def _feeds(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 10, (2, 30, 2)).astype(np.float32)
    size = rng.uniform(1, 4, (2, 30, 2)).astype(np.float32)
    scores = rng.uniform(-0.5, 1, (2, 3, 30)).astype(np.float32)
    return {"boxes": np.concatenate([corner, corner + size], axis=-1), "scores": scores}


def _same_as_onnxruntime(model: onnx.ModelProto, feeds: dict, tmp_path) -> np.ndarray:
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    expected = run_onnxruntime(path, feeds)["selected"]
    actual = run_openvino(xml, feeds)["selected"]
    assert actual.dtype == np.int64
    np.testing.assert_array_equal(actual, expected)
    return expected


def test_without_score_threshold_every_score_counts(tmp_path):
    """No score_threshold input: negative scores are selected too."""
    model = _nms_model(["boxes", "scores", "max", "iou"],
                       {"max": np.array([4], np.int64), "iou": np.array([0.3], np.float32)})
    feeds = _feeds()
    feeds["scores"] -= 2  # every score negative
    selected = _same_as_onnxruntime(model, feeds, tmp_path)
    picked = feeds["scores"][selected[:, 0], selected[:, 1], selected[:, 2]]
    assert (picked < 0).all() and len(selected) == 2 * 3 * 4


def test_without_max_output_selects_nothing(tmp_path):
    """max_output_boxes_per_class defaults to 0: an empty [0, 3] result."""
    selected = _same_as_onnxruntime(_nms_model(["boxes", "scores"], {}), _feeds(1), tmp_path)
    assert selected.shape == (0, 3)


def test_center_point_boxes_with_thresholds(tmp_path):
    model = _nms_model(["boxes", "scores", "max", "iou", "score"],
                       {"max": np.array([6], np.int64), "iou": np.array([0.2], np.float32),
                        "score": np.array([0.25], np.float32)}, center_point_box=1)
    selected = _same_as_onnxruntime(model, _feeds(2), tmp_path)
    assert 0 < len(selected) < 2 * 3 * 6


def test_bad_center_point_box_is_refused(tmp_path):
    onnx.save(_nms_model(["boxes", "scores"], {}, center_point_box=2), str(tmp_path / "m.onnx"))
    with pytest.raises(ConversionError, match=r"NonMaxSuppression.*'nms'.*center_point_box 2"):
        convert(tmp_path / "m.onnx", output_dir=tmp_path / "ir")
