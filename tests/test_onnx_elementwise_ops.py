"""Element-wise math, logic, comparisons and activations of the ONNX frontend, checked against
the node test cases shipped with the onnx package (a one-node model, its inputs and expected
outputs), run in OpenVINO and, with the inputs made constants, through constant folding."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import onnx
import pytest

from converter.errors import UserInputError
from onnx import TensorProto, numpy_helper

from converter import convert
from modelzoo.runtime import run_openvino

from onnx_testing import convert_and_compare, single_op

OPERATORS = frozenset("""
    Abs Neg Floor Ceil Round Sign Reciprocal Sqrt Exp Log Erf Sin Cos Tan Asin Acos Atan Sinh Cosh
    Asinh Acosh Atanh Not IsNaN IsInf BitwiseNot
    Pow Mod And Or Xor Equal Less LessOrEqual Greater GreaterOrEqual BitShift BitwiseAnd
    BitwiseOr BitwiseXor Where
    Celu Elu Selu HardSigmoid HardSwish Mish Softplus Softsign Shrink ThresholdedRelu LeakyRelu
    PRelu Gelu Swish Hardmax LogSoftmax
""".split())

# Element types an OpenVINO IR cannot hold: such cases are refused by name, as they should be.
UNREPRESENTABLE = {TensorProto.STRING}
# bfloat16 converts, but run_openvino here cannot feed it (numpy lacks the type): those cases
# run through the conformance harness, which feeds it bit for bit, in tests/test_element_types.py.
FED_ELSEWHERE = {TensorProto.BFLOAT16}

# Cases whose expectation OpenVINO's CPU plugin cannot meet, whatever the IR says.
PLUGIN_LIMITS = {
    "test_mod_float_edge_cases_fmod_0_float64":
        "the CPU plugin computes f64 in f32 and saturates infinities to the f32 maximum",
}


def _node_cases() -> list:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    return sorted((c for c in cases if len(c.model.graph.node) == 1
                   and c.model.graph.node[0].op_type in OPERATORS), key=lambda c: c.name)


ALL_CASES = _node_cases()


def _element_types(model: onnx.ModelProto) -> set[int]:
    values = list(model.graph.input) + list(model.graph.output)
    return {v.type.tensor_type.elem_type for v in values}


# Cases run through OpenVINO; those with element types the IR cannot hold are checked to be
# refused by name instead. The plugin's f64 limit leaves its case out (its f32 and f16 twins run).
UNREPRESENTABLE_CASES = [c for c in ALL_CASES if _element_types(c.model) & UNREPRESENTABLE]
CASES = [c for c in ALL_CASES if c not in UNREPRESENTABLE_CASES and c.name not in PLUGIN_LIMITS
         and not _element_types(c.model) & FED_ELSEWHERE]


def _assert_matches(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
    else:
        assert np.allclose(actual, expected, rtol=1e-3, atol=1e-7, equal_nan=True), \
            f"{what}: {actual} != {expected}"


def _as_constants(model: onnx.ModelProto, inputs: list[np.ndarray]) -> onnx.ModelProto:
    """`model` with its inputs turned into initializers holding `inputs`."""
    folded = copy.deepcopy(model)
    for info, value in zip(model.graph.input, inputs):
        folded.graph.initializer.append(numpy_helper.from_array(value, info.name))
    del folded.graph.input[:]
    return folded


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_node_case(tmp_path, case):
    path = tmp_path / "model.onnx"
    onnx.save(case.model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    for inputs, outputs in case.data_sets:
        feeds = {info.name: value for info, value in zip(case.model.graph.input, inputs)}
        actual = run_openvino(xml, feeds)
        for info, expected in zip(case.model.graph.output, outputs):
            _assert_matches(actual[info.name], expected, info.name)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_node_case_constant_folded(tmp_path, case):
    """Constant inputs: the converter folds the node with the ops' numpy evaluations."""
    inputs, outputs = case.data_sets[0]
    path = tmp_path / "model.onnx"
    onnx.save(_as_constants(case.model, inputs), str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    actual = run_openvino(xml, {})
    for info, expected in zip(case.model.graph.output, outputs):
        _assert_matches(actual[info.name], expected, info.name)


def test_cases_cover_every_new_operator():
    covered = {c.model.graph.node[0].op_type for c in ALL_CASES}
    assert covered == OPERATORS


@pytest.mark.parametrize("case", UNREPRESENTABLE_CASES, ids=lambda c: c.name)
def test_types_the_ir_cannot_hold_are_refused_by_name(tmp_path, case):
    path = tmp_path / "model.onnx"
    onnx.save(case.model, str(path))
    with pytest.raises(UserInputError) as info:
        convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert any(word in str(info.value).lower() for word in ("string", "bfloat16", "bf16")), info.value


# The opset < 13 readings, which the node cases (at the newest opsets) do not reach.

@pytest.mark.parametrize("op", ["LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_coerced_2d_before_opset_13(tmp_path, op, axis):
    convert_and_compare(single_op(op, [(2, 3, 4)], 11, axis=axis), tmp_path)


@pytest.mark.parametrize("op", ["LogSoftmax", "Hardmax"])
def test_default_axis_before_opset_13(tmp_path, op):
    convert_and_compare(single_op(op, [(2, 3, 4)], 11), tmp_path)


def test_hardmax_first_of_tied_maxima(tmp_path):
    feeds = {"x0": np.float32([[1, 3, 3, 0], [2, 2, 2, 2], [0, 0, 5, 5]])}
    convert_and_compare(single_op("Hardmax", [(3, 4)], 13), tmp_path, feeds=feeds)


def test_hardmax_dynamic_axis_size(tmp_path):
    model = single_op("Hardmax", [(2, "n")], 13)
    feeds = {"x0": np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)}
    convert_and_compare(model, tmp_path, feeds=feeds)


@pytest.mark.parametrize("alpha", [0.5, 2.0, -1.5])
def test_celu_alpha(tmp_path, alpha):
    convert_and_compare(single_op("Celu", [(3, 4)], 12, alpha=alpha), tmp_path)


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_swish_alpha(tmp_path, alpha):
    convert_and_compare(single_op("Swish", [(3, 4)], 24, alpha=alpha), tmp_path)
