"""ONNX ConvTranspose ((Group)ConvolutionBackpropData) and DeformConv (DeformableConvolution-8),
with Conv beside them: the onnx wheel's node cases (1-D/2-D/3-D, output_padding, output_shape,
auto_pad, group, dilations, kernel_shape; deformable offsets, masks, offset groups and bias),
the pytorch model cases with a transposed convolution, plus what the node cases miss: the
older opset reading, a dynamic batch, output_shape cropping, and the errors for what cannot be
converted."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from bench.conformance_cases import collect
from bench.conformance_check import check
from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, ir_layer_types, make_model

FLOAT = TensorProto.FLOAT
MODEL_CASES = "^(test_ConvTranspose2d|test_ConvTranspose2d_no_bias|test_operator_convtranspose)$"


@pytest.mark.parametrize("case", cases_of("ConvTranspose", "DeformConv", "Conv"), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", collect(("pytorch-converted", "pytorch-operator"), MODEL_CASES),
                         ids=case_id)
def test_pytorch_model_case(case):
    outcome = check(case, "ours")
    assert outcome.passed, f"{case.name} failed at {outcome.stage}: {outcome.error}"


def test_model_cases_are_found():
    assert len(collect(("pytorch-converted", "pytorch-operator"), MODEL_CASES)) == 3


def _conv_transpose(opset: int, x_shape: list, w: np.ndarray, bias: bool = True,
                    **attrs) -> onnx.ModelProto:
    inits = {"w": w}
    names = ["x", "w"]
    if bias:
        inits["b"] = np.linspace(-1, 1, w.shape[1] * attrs.get("group", 1)).astype(np.float32)
        names.append("b")
    node = helper.make_node("ConvTranspose", names, ["y"], name="deconv", **attrs)
    return make_model([node], {"x": (x_shape, FLOAT)}, {"y": (None, FLOAT)}, opset, inits)


def _weights(*shape: int) -> np.ndarray:
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("attrs", [
    {"group": 2, "strides": [2, 2], "output_padding": [1, 0], "pads": [1, 0, 0, 1]},
    {"auto_pad": "SAME_LOWER", "strides": [2, 3]},
    {"auto_pad": "SAME_UPPER", "strides": [2, 2], "dilations": [2, 1]},
    {"auto_pad": "VALID", "strides": [1, 2]},
    {"strides": [2, 2], "output_shape": [5, 6], "pads": [1, 1, 1, 1]},  # crops the end
], ids=["group-output-padding", "same-lower", "same-upper-dilated", "valid", "output-shape-crop"])
def test_opset_1_reading_matches_onnxruntime(tmp_path, attrs):
    model = _conv_transpose(11, [1, 4, 3, 4], _weights(4, 3, 3, 3), **attrs)
    model.opset_import[0].version = 1 if "output_shape" not in attrs else 11
    model.ir_version = 3 if "output_shape" not in attrs else 8
    convert_and_compare(model, tmp_path, rtol=1e-4, atol=1e-4)


def test_dynamic_batch_keeps_explicit_pads(tmp_path):
    model = _conv_transpose(17, ["N", 2, 4, 4], _weights(2, 3, 2, 2), strides=[2, 2],
                            pads=[0, 1, 1, 0])
    feeds = {"x": np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)}
    xml = convert_and_compare(model, tmp_path, feeds, rtol=1e-4, atol=1e-4)
    assert "ConvolutionBackpropData" in ir_layer_types(xml)


def _refused(tmp_path, model: onnx.ModelProto, pattern: str) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match=pattern):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


def test_output_shape_of_dynamic_spatial_input_is_refused(tmp_path):
    model = _conv_transpose(17, [1, 2, "H", "W"], _weights(2, 3, 2, 2), output_shape=[8, 8],
                            strides=[2, 2])
    _refused(tmp_path, model, r"ConvTranspose node 'deconv'.*spatial dimensions.*not static")


def test_group_that_does_not_divide_the_channels_is_refused(tmp_path):
    model = _conv_transpose(17, [1, 3, 4, 4], _weights(3, 2, 2, 2), bias=False, group=2)
    _refused(tmp_path, model, r"ConvTranspose node 'deconv'.*3 input channels.*2 groups")


def test_3d_deformable_convolution_is_refused(tmp_path):
    node = helper.make_node("DeformConv", ["x", "w", "offset"], ["y"], name="deform")
    model = make_model([node], {"x": ([1, 1, 3, 3, 3], FLOAT),
                                "offset": ([1, 24, 2, 2, 2], FLOAT)},
                       {"y": (None, FLOAT)}, 19, {"w": _weights(1, 1, 2, 2, 2)})
    _refused(tmp_path, model, r"DeformConv node 'deform'.*only 2-D")


def test_deformable_samples_past_the_border_blend_with_zeros(tmp_path):
    """Offsets that push samples past the input's edges: ONNX blends them with zeros
    (bilinear_interpolation_pad); the node cases keep their samples inside."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    offsets = (rng.standard_normal((1, 8, 4, 4)) * 2.5).astype(np.float32)
    node = helper.make_node("DeformConv", ["x", "w", "offset"], ["y"], name="deform")
    model = make_model([node], {"x": ([1, 2, 5, 5], FLOAT), "offset": ([1, 8, 4, 4], FLOAT)},
                       {"y": (None, FLOAT)}, 19, {"w": _weights(3, 2, 2, 2)})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    feeds = {"x": x, "offset": offsets}
    expected = ReferenceEvaluator(model).run(None, feeds)[0]
    np.testing.assert_allclose(run_openvino(xml, feeds)["y"], expected, rtol=1e-5, atol=1e-5)
