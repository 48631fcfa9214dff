"""QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger,
QLinearMatMul and QLinearConv: the onnx node cases, checked as the conformance runner checks
them, and what they miss (older opsets, constant folding of quantized weights, per-axis and
blocked parameters with partial blocks, grouped convolution, clear refusals)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from bench.conformance_cases import Case
from bench.conformance_check import check
from converter import convert
from converter.errors import UserInputError
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import ir_layer_types, make_model
from test_onnx_cast import reference_case

OPERATORS = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger",
             "ConvInteger", "QLinearMatMul", "QLinearConv")

# INT2 and UINT2 have no OpenVINO element type: refused at conversion, by name.
UNREPRESENTABLE = {"test_quantizelinear_int2", "test_quantizelinear_uint2",
                   "test_dequantizelinear_int2", "test_dequantizelinear_uint2"}

# The CPU plugin divides in f32 less exactly than numpy: -2.5 / (5 / 255) gives -127.5 there
# (rounded to even: -128) where ONNX's reference gets -127.49999 (-127); the u8 output is off
# by one at that element. ovc's IR fails the same way. Left out of the parametrization.
PLUGIN_LIMITS = {"test_dynamicquantizelinear", "test_dynamicquantizelinear_expanded"}

ALL = cases_of(*OPERATORS)
PASSING = [c for c in ALL if c.name not in UNREPRESENTABLE | PLUGIN_LIMITS]
REFUSED = [c for c in ALL if c.name in UNREPRESENTABLE]


@pytest.mark.parametrize("case", PASSING, ids=case_id)
def test_node_case(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", REFUSED, ids=case_id)
def test_two_bit_types_are_refused_at_convert(case):
    outcome = check(case, "ours")
    assert outcome.stage == "convert" and "OpenVINO IR cannot hold" in outcome.error, outcome
    assert "INT2" in outcome.error


# -- what the node cases miss ------------------------------------------------------------------

def _model(op: str, inputs: dict[str, tuple], opset: int, out_type: int,
           initializers: dict[str, np.ndarray] | None = None, **attrs) -> onnx.ModelProto:
    names = list(inputs) + list(initializers or {})
    node = helper.make_node(op, names, ["y"], name=f"{op.lower()}_node", **attrs)
    model = make_model([node], inputs, {"y": (None, out_type)}, opset, initializers)
    return model


def _convert(model: onnx.ModelProto, tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return convert(path, output_dir=tmp_path / "ir", model_name="model")


def _case(model: onnx.ModelProto, inputs: dict[str, np.ndarray], expected: np.ndarray) -> Case:
    """A case with a hand-computed expectation, where ONNX's reference lacks the reading
    (DequantizeLinear before opset 19, MatMulInteger's per-row zero point)."""
    return Case("node", model.graph.node[0].name, model.graph.node[0].op_type,
                model.SerializeToString(), [(inputs, [("y", expected)])])


RNG = np.random.default_rng(7)


def test_opset10_quantize_and_dequantize_per_tensor():
    x = (RNG.standard_normal(12) * 40).astype(np.float32)
    quantize = _model("QuantizeLinear", {"x": ([12], TensorProto.FLOAT)}, 10, TensorProto.INT8,
                      {"scale": np.array(0.5, np.float32), "zp": np.array(-3, np.int8)})
    assert_conforms(reference_case(quantize, {"x": x}, "quantize_opset10"))
    q = RNG.integers(0, 255, 12).astype(np.uint8)
    dequantize = _model("DequantizeLinear", {"q": ([12], TensorProto.UINT8)}, 10,
                        TensorProto.FLOAT,
                        {"scale": np.array(0.25, np.float32), "zp": np.array(128, np.uint8)})
    expected = ((q.astype(np.float32) - 128) * 0.25).astype(np.float32)
    assert_conforms(_case(dequantize, {"q": q}, expected))


def test_quantize_without_zero_point_gives_u8_and_saturates():
    x = np.array([-5.0, 0.4, 0.5, 1.5, 2.5, 1000.0], np.float32)
    model = _model("QuantizeLinear", {"x": ([6], TensorProto.FLOAT),
                                      "scale": ([], TensorProto.FLOAT)}, 13, TensorProto.UINT8)
    assert_conforms(reference_case(model, {"x": x, "scale": np.array(1.0, np.float32)},
                                   "quantize_default_u8"))


def test_constant_weights_dequantize_to_a_constant(tmp_path):
    """Quantized weights (constants) fold: the IR holds the float weights alone."""
    weights = RNG.integers(-8, 8, (4, 3)).astype(np.int8)
    model = _model("DequantizeLinear", {}, 13, TensorProto.FLOAT,
                   {"w": weights, "scale": np.array([0.5, 0.25, 2.0, 1.0], np.float32),
                    "zp": np.array([0, 1, -1, 2], np.int8)}, axis=0)
    xml = _convert(model, tmp_path)
    assert ir_layer_types(xml) == ["Const", "Result"]
    scale = np.array([0.5, 0.25, 2.0, 1.0], np.float32)[:, None]
    expected = (weights.astype(np.float32) - np.array([0, 1, -1, 2])[:, None]) * scale
    assert_conforms(_case(model, {}, expected.astype(np.float32)))


def test_blocked_dequantize_with_a_partial_last_block():
    x = RNG.integers(0, 255, (2, 5)).astype(np.uint8)
    model = _model("DequantizeLinear", {"x": ([2, 5], TensorProto.UINT8),
                                        "scale": ([2, 3], TensorProto.FLOAT),
                                        "zp": ([2, 3], TensorProto.UINT8)}, 21,
                   TensorProto.FLOAT, axis=1, block_size=2)
    feeds = {"x": x, "scale": RNG.random((2, 3)).astype(np.float32),
             "zp": RNG.integers(0, 255, (2, 3)).astype(np.uint8)}
    assert_conforms(reference_case(model, feeds, "dequantize_partial_block"))


def test_quantize_to_int4_packs_the_zero_point_constant():
    """An i4 zero point constant lands in the .bin two to a byte."""
    x = (RNG.standard_normal((3, 5)) * 4).astype(np.float32)
    zero_point = np.array([1, -2, 3], onnx.helper.tensor_dtype_to_np_dtype(TensorProto.INT4))
    model = _model("QuantizeLinear", {"x": ([3, 5], TensorProto.FLOAT)}, 21, TensorProto.INT4,
                   {"scale": np.array([0.5, 1.0, 2.0], np.float32), "zp": zero_point}, axis=0)
    assert_conforms(reference_case(model, {"x": x}, "quantize_int4_constant_zero_point"))


def test_grouped_qlinearconv_with_bias_and_per_channel_scales():
    x = RNG.integers(0, 255, (1, 4, 5, 5)).astype(np.uint8)
    w = RNG.integers(-20, 20, (4, 2, 3, 3)).astype(np.int8)
    model = _model("QLinearConv", {"x": ([1, 4, 5, 5], TensorProto.UINT8)}, 10,
                   TensorProto.UINT8,
                   {"x_scale": np.array(0.05, np.float32), "x_zp": np.array(100, np.uint8),
                    "w": w, "w_scale": np.array([0.01, 0.02, 0.03, 0.04], np.float32),
                    "w_zp": np.zeros(4, np.int8), "y_scale": np.array(0.1, np.float32),
                    "y_zp": np.array(90, np.uint8), "bias": np.array([5, -5, 50, 0], np.int32)},
                   group=2, pads=[1, 1, 1, 1])
    assert_conforms(reference_case(model, {"x": x}, "qlinearconv_grouped"))


def test_matmulinteger_with_a_per_row_zero_point():
    a = RNG.integers(0, 255, (3, 4)).astype(np.uint8)
    b = RNG.integers(0, 255, (4, 2)).astype(np.uint8)
    model = _model("MatMulInteger", {"a": ([3, 4], TensorProto.UINT8),
                                     "b": ([4, 2], TensorProto.UINT8),
                                     "a_zp": ([3], TensorProto.UINT8)}, 10, TensorProto.INT32)
    a_zp = np.array([1, 100, 250], np.uint8)
    expected = (a.astype(np.int32) - a_zp[:, None]) @ b.astype(np.int32)
    assert_conforms(_case(model, {"a": a, "b": b, "a_zp": a_zp}, expected))


def test_a_matrix_scale_without_block_size_is_refused(tmp_path):
    model = _model("DequantizeLinear", {"x": ([2, 4], TensorProto.UINT8),
                                        "scale": ([2, 2], TensorProto.FLOAT)}, 21,
                   TensorProto.FLOAT)
    with pytest.raises(UserInputError, match="dequantizelinear_node.*scalar or 1-D"):
        _convert(model, tmp_path)


def test_output_dtype_disagreeing_with_the_zero_point_is_refused(tmp_path):
    model = _model("QuantizeLinear", {"x": ([4], TensorProto.FLOAT)}, 21, TensorProto.INT8,
                   {"scale": np.array(1.0, np.float32), "zp": np.array(0, np.uint8)},
                   output_dtype=TensorProto.INT8)
    with pytest.raises(UserInputError, match="quantizelinear_node.*output_dtype i8 disagrees"):
        _convert(model, tmp_path)
