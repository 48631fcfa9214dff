"""ONNX Resize and Upsample: the onnx wheel's node cases (nearest with each nearest_mode, linear,
cubic with cubic_coeff_a and exclude_outside, every coordinate transformation, tf_crop_and_resize
with roi and extrapolation_value, scales or sizes, axes, keep_aspect_ratio_policy, antialias),
plus what the node cases miss: the Resize-10 and Upsample-7/9 readings, constant scales giving
static shapes, which path (Interpolate or explicit weights) a resize takes, the weights path
with dynamic dimensions and folded for constant inputs, and the errors for what cannot be
converted."""
from __future__ import annotations

import numpy as np
import onnx
import openvino as ov
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, ir_layer_types, make_model

FLOAT = TensorProto.FLOAT

@pytest.mark.parametrize("case", cases_of("Resize", "Upsample"), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _resize(opset: int, x_shape: list, inputs: list[str], inits: dict, **attrs) -> onnx.ModelProto:
    node = helper.make_node("Resize", ["x", *inputs], ["y"], name="resize", **attrs)
    return make_model([node], {"x": (x_shape, FLOAT)}, {"y": (None, FLOAT)}, opset, inits)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_10_reads_as_asymmetric(tmp_path, mode):
    model = _resize(10, [1, 2, 3, 4], ["scales"],
                    {"scales": np.array([1, 1, 2, 1.5], np.float32)}, mode=mode)
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("opset", [7, 9])
def test_upsample_readings(tmp_path, opset):
    scales = [1.0, 1.0, 2.0, 3.0]
    if opset == 7:
        node = helper.make_node("Upsample", ["x"], ["y"], name="up", mode="nearest", scales=scales)
        inits = {}
    else:
        node = helper.make_node("Upsample", ["x", "scales"], ["y"], name="up", mode="linear")
        inits = {"scales": np.array(scales, np.float32)}
    model = make_model([node], {"x": ([1, 2, 3, 4], FLOAT)}, {"y": (None, FLOAT)}, opset, inits)
    model.ir_version = 3
    convert_and_compare(model, tmp_path)


def test_constant_scales_give_a_static_shape(tmp_path):
    model = _resize(13, [1, 3, 4, 5], ["", "scales"],
                    {"scales": np.array([1, 1, 1.5, 2], np.float32)}, mode="cubic",
                    cubic_coeff_a=-0.5, coordinate_transformation_mode="pytorch_half_pixel")
    xml = convert_and_compare(model, tmp_path)
    shape = ov.Core().read_model(str(xml)).output(0).get_partial_shape()
    assert shape.is_static and shape.to_shape() == [1, 3, 6, 10]


def test_sizes_with_axes_give_a_static_shape(tmp_path):
    model = _resize(18, [1, 3, 4, 5], ["", "", "sizes"], {"sizes": np.array([7, 3], np.int64)},
                    mode="linear", axes=[3, 2], coordinate_transformation_mode="align_corners")
    xml = convert_and_compare(model, tmp_path)
    assert ov.Core().read_model(str(xml)).output(0).get_partial_shape().to_shape() == [1, 3, 3, 7]


def _refused(tmp_path, model: onnx.ModelProto, pattern: str) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match=pattern):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


def test_scales_and_sizes_together_are_refused(tmp_path):
    model = _resize(13, [1, 1, 2, 2], ["", "scales", "sizes"],
                    {"scales": np.ones(4, np.float32), "sizes": np.array([1, 1, 2, 2], np.int64)})
    _refused(tmp_path, model, r"Resize node 'resize'.*exactly one of its scales and sizes")


def test_nearest_crop_and_resize_is_refused(tmp_path):
    model = _resize(13, [1, 1, 4, 4], ["roi", "", "sizes"],
                    {"roi": np.array([0, 0, .2, .2, 1, 1, .8, .8], np.float32),
                     "sizes": np.array([1, 1, 3, 3], np.int64)},
                    mode="nearest", coordinate_transformation_mode="tf_crop_and_resize")
    _refused(tmp_path, model, r"Resize node 'resize'.*'tf_crop_and_resize'.*'linear' and 'cubic'")


def test_unknown_mode_is_refused(tmp_path):
    model = _resize(13, [1, 1, 2, 2], ["", "scales"], {"scales": np.ones(4, np.float32)},
                    mode="area")
    _refused(tmp_path, model, r"Resize node 'resize'.*mode 'area'")


@pytest.mark.parametrize("scale, path", [(2.0, "Interpolate"), (0.6, "MatMul")])
def test_align_corners_uses_interpolate_for_whole_lengths_only(tmp_path, scale, path):
    """A constant scale with whole output lengths keeps Interpolate; a fractional length
    (5 * 0.6 = 3 but 4 * 0.6 = 2.4) takes the weights, as ONNX maps by 2.4. (onnxruntime maps
    by the whole length 2, as Interpolate does; ONNX's reference and its node cases by 2.4.)"""
    model = _resize(13, [1, 2, 4, 5], ["", "scales"],
                    {"scales": np.array([1, 1, scale, scale], np.float32)}, mode="linear",
                    coordinate_transformation_mode="align_corners")
    path_onnx = tmp_path / "model.onnx"
    onnx.save(model, str(path_onnx))
    xml = convert(path_onnx, output_dir=tmp_path / "ir", model_name="model")
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 5)).astype(np.float32)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(run_openvino(xml, {"x": x})["y"], expected, rtol=1e-5, atol=1e-5)
    assert path in ir_layer_types(xml)


def test_antialias_with_dynamic_dimensions(tmp_path):
    model = _resize(18, ["N", 2, "H", "W"], ["", "scales"],
                    {"scales": np.array([0.45, 0.7], np.float32)}, mode="cubic", antialias=1,
                    axes=[2, 3])
    feeds = {"x": np.random.default_rng(0).standard_normal((2, 2, 9, 7)).astype(np.float32)}
    xml = convert_and_compare(model, tmp_path, feeds)
    assert "Interpolate" not in ir_layer_types(xml)


def test_weights_fold_for_constant_inputs(tmp_path):
    model = _resize(18, [1, 1, 3, 4], ["", "scales"],
                    {"scales": np.array([1, 1, 0.5, 0.75], np.float32)}, mode="linear",
                    antialias=1)
    data = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    model.graph.initializer.append(onnx.numpy_helper.from_array(data, "x"))
    del model.graph.input[:]
    xml = convert_and_compare(model, tmp_path, {})
    assert not {"MatMul", "Gather", "Interpolate"} & set(ir_layer_types(xml))
