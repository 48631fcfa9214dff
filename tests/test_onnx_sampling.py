"""Sampling ops of the ONNX frontend: GridSample, AffineGrid, RoiAlign and MaxUnpool, on the
onnx wheel's node cases and on what those cases miss (older opset readings, clear errors)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from bench.conformance_check import check
from converter import convert
from converter.errors import ConversionError
from tests.onnx_conformance_cases import assert_conforms, case_id, cases_of
from tests.onnx_testing import convert_and_compare, make_model

# OpenVINO's GridSample samples 4-D data only: volumetric cases fail at convert, clearly.
VOLUMETRIC = tuple(c.name for c in cases_of("GridSample") if "volumetric" in c.name)
# ONNX's reference max mode takes the max of the weighted corner values of each sample (not of
# the interpolated values): OpenVINO's ROIAlign max does not, and ovc fails it the same way.
ROI_MAX = ("test_roialign_mode_max",)
# AffineGrid's function expansions fail in Split, Range and Unsqueeze handlers of other
# families (a [1]-shaped Range bound, an unknown rank), not in this one.
AFFINE_EXPANDED = tuple(c.name for c in cases_of("AffineGrid") if c.name.endswith("_expanded"))
SAMPLING_CASES = cases_of("GridSample", "AffineGrid", "RoiAlign", "MaxUnpool",
                          exclude=VOLUMETRIC + ROI_MAX + AFFINE_EXPANDED)


@pytest.mark.parametrize("case", SAMPLING_CASES, ids=case_id)
def test_node_case_conforms(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", [c for c in cases_of("GridSample") if c.name in VOLUMETRIC],
                         ids=case_id)
def test_volumetric_grid_sample_is_refused_at_convert(case):
    outcome = check(case, "ours")
    assert outcome.stage == "convert", (outcome.stage, outcome.error)
    assert "GridSample node 'Y'" in outcome.error and "rank-5" in outcome.error


def test_roi_align_max_mode_converts_to_openvino_max():
    """Converted (OpenVINO's own max pooling), but ONNX's reference differs: see ROI_MAX."""
    (case,) = [c for c in cases_of("RoiAlign") if c.name in ROI_MAX]
    outcome = check(case, "ours")
    assert outcome.stage == "compare", (outcome.stage, outcome.error)


def _roi_model(opset: int, **attrs) -> onnx.ModelProto:
    node = helper.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], name="roi",
                            output_height=3, output_width=4, sampling_ratio=2, **attrs)
    return make_model([node], {"x": ([2, 3, 8, 8], TensorProto.FLOAT),
                               "rois": ([4, 4], TensorProto.FLOAT),
                               "idx": ([4], TensorProto.INT64)},
                      {"y": (None, TensorProto.FLOAT)}, opset)


def _roi_feeds():
    rng = np.random.default_rng(0)
    rois = np.array([[0, 0, 7, 7], [1.5, 2, 5, 6.5], [3, 1, 7.5, 4], [0.2, 0.3, 2, 2]],
                    np.float32)
    return {"x": rng.standard_normal((2, 3, 8, 8)).astype(np.float32), "rois": rois,
            "idx": np.array([0, 1, 1, 0], np.int64)}


@pytest.mark.parametrize("opset, attrs", [(10, {}), (16, {}),
                                          (16, {"coordinate_transformation_mode":
                                                "output_half_pixel"})])
def test_roi_align_readings_match_onnxruntime(opset, attrs, tmp_path):
    """Opset 10 never shifts by half a pixel; from 16 on half_pixel is the default."""
    convert_and_compare(_roi_model(opset, spatial_scale=0.5, **attrs), tmp_path,
                        feeds=_roi_feeds(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_grid_sample_opset16_mode_names(mode, tmp_path):
    node = helper.make_node("GridSample", ["x", "grid"], ["y"], name="gs", mode=mode,
                            padding_mode="border", align_corners=1)
    model = make_model([node], {"x": ([1, 2, 5, 6], TensorProto.FLOAT),
                                "grid": ([1, 3, 4, 2], TensorProto.FLOAT)},
                       {"y": (None, TensorProto.FLOAT)}, 16)
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((1, 2, 5, 6)).astype(np.float32),
             "grid": rng.uniform(-1.1, 1.1, (1, 3, 4, 2)).astype(np.float32)}
    convert_and_compare(model, tmp_path, feeds=feeds, rtol=1e-4, atol=1e-5)


def test_affine_grid_with_constant_size_folds_the_base_grid(tmp_path):
    node = helper.make_node("AffineGrid", ["theta", "size"], ["grid"], name="ag",
                            align_corners=1)
    model = make_model([node], {"theta": ([2, 2, 3], TensorProto.FLOAT)},
                       {"grid": (None, TensorProto.FLOAT)}, 20,
                       {"size": np.array([2, 1, 4, 5], np.int64)})
    theta = np.random.default_rng(2).standard_normal((2, 2, 3)).astype(np.float32)
    convert_and_compare(model, tmp_path, feeds={"theta": theta}, rtol=1e-5, atol=1e-6)


def test_max_unpool_with_pads(tmp_path):
    pool = helper.make_node("MaxPool", ["x"], ["p", "i"], name="pool", kernel_shape=[3, 3],
                            strides=[2, 2], pads=[1, 1, 1, 1])
    unpool = helper.make_node("MaxUnpool", ["p", "i"], ["y"], name="unpool", kernel_shape=[3, 3],
                              strides=[2, 2], pads=[1, 1, 1, 1])
    model = make_model([pool, unpool], {"x": ([2, 3, 7, 7], TensorProto.FLOAT)},
                       {"y": (None, TensorProto.FLOAT)}, 11)
    convert_and_compare(model, tmp_path, rtol=1e-6, atol=1e-6)


def test_max_unpool_needs_a_static_shape(tmp_path):
    node = helper.make_node("MaxUnpool", ["x", "i"], ["y"], name="unpool", kernel_shape=[2, 2],
                            strides=[2, 2])
    model = make_model([node], {"x": ([1, 1, "h", 2], TensorProto.FLOAT),
                                "i": ([1, 1, "h", 2], TensorProto.INT64)},
                       {"y": (None, TensorProto.FLOAT)}, 11)
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(ConversionError, match=r"MaxUnpool.*'unpool'.*static input shape"):
        convert(tmp_path / "m.onnx", output_dir=tmp_path / "ir")
