"""Normalizations: LayerNormalization, RMSNormalization, GroupNormalization (per-group scale at
opset 18, per-channel at 21), InstanceNormalization, MeanVarianceNormalization, LpNormalization
and BatchNormalization (inference and training_mode). The onnx wheel's node cases, plus
comparisons with onnxruntime for what they miss (f16 inputs with an f32 stash, dynamic shapes,
other axes), constant folding of MVN, and the errors for what cannot be converted."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, ir_layer_types, make_model, single_op

FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16
OPERATORS = ("LayerNormalization", "RMSNormalization", "GroupNormalization",
             "InstanceNormalization", "LpNormalization", "MeanVarianceNormalization",
             "BatchNormalization")


@pytest.mark.parametrize("case", cases_of(*OPERATORS), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _rng_array(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("axis", [1, -1])
def test_layer_normalization_of_f16_stashes_in_f32(tmp_path, axis):
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=axis)
    trailing = (3, 4) if axis == 1 else (4,)
    model = make_model([node], {"x": ((2, 3, 4), FLOAT16)}, {"y": (None, FLOAT16)}, 17,
                       {"scale": _rng_array(trailing, np.float16, 1),
                        "bias": _rng_array(trailing, np.float16, 2)})
    convert_and_compare(model, tmp_path, feeds={"x": _rng_array((2, 3, 4), np.float16)},
                        rtol=1e-2, atol=1e-2)


def test_layer_normalization_without_bias_on_a_dynamic_batch(tmp_path):
    node = helper.make_node("LayerNormalization", ["x", "scale"], ["y", "mean", "inv_std"],
                            axis=-2, epsilon=1e-3)
    model = make_model([node], {"x": (("n", 3, 4), FLOAT)},
                       {"y": (None, FLOAT), "mean": (None, FLOAT), "inv_std": (None, FLOAT)}, 17,
                       {"scale": _rng_array((3, 4), seed=1)})
    convert_and_compare(model, tmp_path, feeds={"x": _rng_array((5, 3, 4))}, rtol=1e-4)


def test_group_normalization_per_group_scale_at_opset_18(tmp_path):
    """Opset 18 scales each group (scale and bias of length num_groups)."""
    x = _rng_array((2, 6, 3, 2))
    scale, bias = _rng_array((3,), seed=1), _rng_array((3,), seed=2)
    node = helper.make_node("GroupNormalization", ["x", "scale", "bias"], ["y"], num_groups=3)
    model = make_model([node], {"x": ((2, 6, 3, 2), FLOAT)}, {"y": (None, FLOAT)}, 18,
                       {"scale": scale, "bias": bias})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    grouped = x.reshape(2, 3, -1)
    normalized = (grouped - grouped.mean(-1, keepdims=True)) / np.sqrt(
        grouped.var(-1, keepdims=True) + 1e-5)
    expected = (normalized * scale[None, :, None] + bias[None, :, None]).reshape(x.shape)
    np.testing.assert_allclose(run_openvino(xml, {"x": x})["y"], expected, rtol=1e-4, atol=1e-5)


def test_group_normalization_on_dynamic_spatial_dims(tmp_path):
    node = helper.make_node("GroupNormalization", ["x", "scale", "bias"], ["y"], num_groups=2)
    model = make_model([node], {"x": ((1, 4, "h", "w"), FLOAT)}, {"y": (None, FLOAT)}, 21,
                       {"scale": _rng_array((4,), seed=1), "bias": _rng_array((4,), seed=2)})
    convert_and_compare(model, tmp_path, feeds={"x": _rng_array((1, 4, 3, 5))}, rtol=1e-4,
                        atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 7), (1, 2, 3, 4, 5)])
def test_instance_normalization_of_other_ranks(tmp_path, shape):
    model = single_op("InstanceNormalization", [shape], 6, epsilon=1e-3,
                      initializers={"scale": _rng_array((shape[1],), seed=1),
                                    "bias": _rng_array((shape[1],), seed=2)})
    convert_and_compare(model, tmp_path, rtol=1e-4, atol=1e-5)


def test_instance_normalization_of_constant_data_folds(tmp_path):
    node = helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"])
    x = _rng_array((1, 2, 3, 4))
    model = make_model([node], {}, {"y": (None, FLOAT)}, 6,
                       {"x": x, "scale": np.ones(2, np.float32), "bias": np.zeros(2, np.float32)})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert "MVN" not in ir_layer_types(xml)
    expected = (x - x.mean((2, 3), keepdims=True)) / np.sqrt(x.var((2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(run_openvino(xml, {})["y"], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("axes", [[1], [0, -1]])
def test_mean_variance_normalization_axes(tmp_path, axes):
    model = single_op("MeanVarianceNormalization", [(3, 4, 5)], 13, axes=axes)
    convert_and_compare(model, tmp_path, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_lp_normalization(tmp_path, p, axis):
    convert_and_compare(single_op("LpNormalization", [(3, 4, 5)], 1, p=p, axis=axis), tmp_path,
                        rtol=1e-5)


def test_batch_normalization_training_mode_with_momentum(tmp_path):
    """Training mode normalizes with the batch's statistics and updates the running ones."""
    x = _rng_array((4, 3, 5))
    scale, bias = _rng_array((3,), seed=1), _rng_array((3,), seed=2)
    mean, var = _rng_array((3,), seed=3), np.abs(_rng_array((3,), seed=4))
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"],
                            ["y", "running_mean", "running_var"], training_mode=1, momentum=0.7,
                            epsilon=1e-3)
    model = make_model([node], {"x": ((4, 3, 5), FLOAT)},
                       {name: (None, FLOAT) for name in ("y", "running_mean", "running_var")},
                       15, {"scale": scale, "bias": bias, "mean": mean, "var": var})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    outputs = run_openvino(convert(path, output_dir=tmp_path / "ir", model_name="model"),
                           {"x": x})
    batch_mean, batch_var = x.mean((0, 2)), x.var((0, 2))
    normalized = (x - batch_mean[:, None]) / np.sqrt(batch_var[:, None] + 1e-3)
    expected = normalized * scale[:, None] + bias[:, None]
    np.testing.assert_allclose(outputs["y"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["running_mean"], mean * 0.7 + batch_mean * 0.3, rtol=1e-5)
    np.testing.assert_allclose(outputs["running_var"], var * 0.7 + batch_var * 0.3, rtol=1e-5)


def _convert(tmp_path, model):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return convert(path, output_dir=tmp_path / "ir", model_name="model")


def test_lp_normalization_of_p_3_is_an_error(tmp_path):
    node = helper.make_node("LpNormalization", ["x"], ["y"], name="norm", p=3)
    model = make_model([node], {"x": ((2, 3), FLOAT)}, {"y": (None, FLOAT)}, 1)
    with pytest.raises(UserInputError, match=r"LpNormalization node 'norm'.*p 3"):
        _convert(tmp_path, model)


def test_group_normalization_without_num_groups_is_an_error(tmp_path):
    node = helper.make_node("GroupNormalization", ["x", "scale", "bias"], ["y"], name="norm")
    model = make_model([node], {"x": ((1, 4, 2, 2), FLOAT)}, {"y": (None, FLOAT)}, 21,
                       {"scale": np.ones(4, np.float32), "bias": np.zeros(4, np.float32)})
    with pytest.raises(UserInputError, match=r"GroupNormalization node 'norm'.*num_groups"):
        _convert(tmp_path, model)


def test_instance_normalization_needs_a_spatial_axis(tmp_path):
    node = helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"], name="norm")
    model = make_model([node], {"x": ((2, 4), FLOAT)}, {"y": (None, FLOAT)}, 6,
                       {"scale": np.ones(4, np.float32), "bias": np.zeros(4, np.float32)})
    with pytest.raises(UserInputError, match=r"InstanceNormalization node 'norm'.*rank 2"):
        _convert(tmp_path, model)


def test_batch_normalization_is_test_0_is_an_error(tmp_path):
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn",
                            is_test=0)
    stats = {name: np.ones(3, np.float32) for name in "sbmv"}
    model = make_model([node], {"x": ((1, 3, 2, 2), FLOAT)}, {"y": (None, FLOAT)}, 6, stats)
    with pytest.raises(UserInputError, match=r"BatchNormalization node 'bn'.*is_test=0"):
        _convert(tmp_path, model)
