"""Cast, CastLike and BitCast: the onnx node cases, checked as the conformance runner checks
them, and the readings the cases miss (opset 1's type names, saturate=0 below opset 19,
constant folding, BitCast of constants, clear refusals)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from bench.conformance_cases import Case
from bench.conformance_check import check
from converter import convert
from converter.errors import UserInputError
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import ir_layer_types, make_model

# Element types OpenVINO has no counterpart of: the converter refuses them by name.
UNREPRESENTABLE = ("FLOAT8E4M3FNUZ", "FLOAT8E5M2FNUZ", "INT2", "UINT2")

# Converted, but the CPU plugin cannot meet the expectation: it computes f64 in f32 and
# saturates infinities to the f32 maximum on the way, so a cast from or to DOUBLE of +-inf
# gives +-3.4e38. Left out of the parametrization (ovc's IRs fail them the same way).
PLUGIN_LIMITS = {name for name in (f"test_{op}_{pair}{suffix}"
                                   for op in ("cast", "castlike")
                                   for pair in ("DOUBLE_to_FLOAT", "FLOAT_to_DOUBLE",
                                                "FLOAT16_to_DOUBLE")
                                   for suffix in ("", "_expanded"))}

# Cast to FLOAT8E8M0 rounds by `round_mode` ("up" by default), which OpenVINO's Convert does
# not: refused at conversion, naming the reason.
E8M0_TARGET = {"test_cast_e8m0_FLOAT_to_FLOAT8E8M0", "test_cast_e8m0_FLOAT16_to_FLOAT8E8M0"}


def _refused(case) -> bool:
    return case.name in E8M0_TARGET or any(f"_{t}" in case.name for t in UNREPRESENTABLE)


ALL = cases_of("Cast", "CastLike", "BitCast")
BITCAST = [c for c in ALL if c.operator == "BitCast"]
REFUSED = [c for c in ALL if _refused(c)]
PASSING = [c for c in ALL if c not in BITCAST and c not in REFUSED and c.name not in PLUGIN_LIMITS]


@pytest.mark.parametrize("case", PASSING, ids=case_id)
def test_node_case(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", REFUSED, ids=case_id)
def test_types_openvino_lacks_are_refused_at_convert(case):
    outcome = check(case, "ours")
    assert not outcome.passed and outcome.stage == "convert", outcome
    assert ("OpenVINO IR cannot hold" in outcome.error
            or "round_mode" in outcome.error), outcome.error


@pytest.mark.parametrize("case", BITCAST, ids=case_id)
def test_bitcast_of_a_model_input_is_refused_naming_the_node(case):
    """The BitCast cases feed their data as inputs: OpenVINO has no op to reinterpret bits."""
    outcome = check(case, "ours")
    assert outcome.stage == "convert" and "BitCast node" in outcome.error, outcome
    assert "only a constant input" in outcome.error


# -- what the node cases miss ------------------------------------------------------------------

def reference_case(model: onnx.ModelProto, inputs: dict[str, np.ndarray], name: str) -> Case:
    """A conformance case of `model` whose expected outputs come from ONNX's reference."""
    outputs = ReferenceEvaluator(model).run(None, inputs)
    expected = [(info.name, value) for info, value in zip(model.graph.output, outputs)]
    return Case("node", name, model.graph.node[0].op_type, model.SerializeToString(),
                [(inputs, expected)])


def _cast_model(to, opset: int, source=TensorProto.FLOAT, target=TensorProto.FLOAT8E4M3FN,
                **attrs) -> onnx.ModelProto:
    node = helper.make_node("Cast", ["x"], ["y"], name="cast_node", to=to, **attrs)
    return make_model([node], {"x": ([6], source)}, {"y": ([6], target)}, opset)


EXTREMES = np.array([0.3, -1000.0, 1000.0, np.inf, -np.inf, np.nan], np.float32)


def test_opset1_reads_the_target_type_by_name():
    model = _cast_model("INT32", 1, target=TensorProto.INT32)
    model.ir_version = 3
    values = np.array([0.2, -1.7, 3.9, 4, 5, 6], np.float32)
    assert_conforms(Case("node", "cast_opset1", "Cast", model.SerializeToString(),
                         [({"x": values}, [("y", values.astype(np.int32))])]))


def test_saturate_zero_overflows_to_nan_as_float8e4m3fn_does():
    model = _cast_model(TensorProto.FLOAT8E4M3FN, 19, saturate=0)
    assert_conforms(reference_case(model, {"x": EXTREMES}, "cast_no_saturate"))


def test_saturating_cast_clamps_and_keeps_nan(tmp_path):
    model = _cast_model(TensorProto.FLOAT8E5M2, 21, target=TensorProto.FLOAT8E5M2)
    assert_conforms(reference_case(model, {"x": EXTREMES}, "cast_saturate"))


def test_cast_of_a_constant_folds_to_a_constant(tmp_path):
    """Clamp, IsNaN, Select and Convert all evaluate: a constant input leaves one Const."""
    node = helper.make_node("Cast", ["c"], ["y"], name="cast_node", to=TensorProto.FLOAT8E4M3FN)
    model = make_model([node], {}, {"y": ([6], TensorProto.FLOAT8E4M3FN)}, 21,
                       initializers={"c": EXTREMES})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert ir_layer_types(xml) == ["Const", "Result"]
    assert_conforms(reference_case(model, {}, "cast_folded"))


def test_castlike_of_a_constant_folds_with_the_likes_type(tmp_path):
    node = helper.make_node("CastLike", ["c", "like"], ["y"], name="castlike_node")
    model = make_model([node], {"like": ([1], TensorProto.BFLOAT16)},
                       {"y": ([6], TensorProto.BFLOAT16)}, 21,
                       initializers={"c": np.arange(6, dtype=np.float32) / 3})
    case = reference_case(model, {"like": np.zeros(1, onnx.helper.tensor_dtype_to_np_dtype(
        TensorProto.BFLOAT16))}, "castlike_folded")
    assert_conforms(case)


def test_bitcast_of_a_constant_is_folded(tmp_path):
    node = helper.make_node("BitCast", ["c"], ["y"], name="bitcast_node", to=TensorProto.INT32)
    values = np.array([1.0, -2.5, 0.0], np.float32)
    model = make_model([node], {}, {"y": ([3], TensorProto.INT32)}, 26,
                       initializers={"c": values})
    model.ir_version = 13
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert ir_layer_types(xml) == ["Const", "Result"]
    assert_conforms(Case("node", "bitcast_folded", "BitCast", model.SerializeToString(),
                         [({}, [("y", values.view(np.int32))])]))


def test_bitcast_between_widths_is_refused(tmp_path):
    node = helper.make_node("BitCast", ["c"], ["y"], name="bitcast_node", to=TensorProto.INT64)
    model = make_model([node], {}, {"y": ([3], TensorProto.INT64)}, 26,
                       initializers={"c": np.zeros(3, np.float32)})
    model.ir_version = 13
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match="bitcast_node.*widths differ"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


def test_cast_to_string_is_refused_by_name(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(_cast_model(TensorProto.STRING, 21, target=TensorProto.STRING), str(path))
    with pytest.raises(UserInputError, match="cast_node.*STRING"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


def test_opset1_unknown_type_name_is_refused(tmp_path):
    model = _cast_model("FLOAT128", 1, target=TensorProto.FLOAT)
    model.ir_version = 3
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match="'FLOAT128', which is not an ONNX element type"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")
