"""Whole-tensor ops (CenterCropPad, DepthToSpace, SpaceToDepth, OneHot, EyeLike,
ReverseSequence, Unique, NonZero, Col2Im): the onnx wheel's node cases, plus what they miss:
constant inputs folded by the ops' numpy evaluation, older opset readings, Unique of a
flattened 2-D input, and the error for what OpenVINO cannot build."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from bench.conformance_check import check
from converter import convert
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, ir_layer_types, make_model

OPERATORS = ("CenterCropPad", "DepthToSpace", "SpaceToDepth", "OneHot", "EyeLike",
             "ReverseSequence", "Unique", "NonZero", "Col2Im")
FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64

# OpenVINO's Col2Im rebuilds 2-D images only; a 3-D block shape is refused at conversion.
CANNOT_CONVERT = {"test_col2im_5d": "OpenVINO's Col2Im rebuilds 2-D images only"}


@pytest.mark.parametrize("case", cases_of(*OPERATORS, exclude=tuple(CANNOT_CONVERT)),
                         ids=case_id)
def test_node_case(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", [c for c in cases_of(*OPERATORS) if c.name in CANNOT_CONVERT],
                         ids=case_id)
def test_node_case_fails_at_conversion(case):
    outcome = check(case, "ours")
    assert outcome.stage == "convert", outcome
    assert CANNOT_CONVERT[case.name] in outcome.error
    assert "Col2Im node" in outcome.error


def _folded(op_type: str, opset: int, constants: dict[str, np.ndarray], tmp_path,
            outputs: int = 1, **attrs) -> None:
    """One node whose inputs are all initializers: the IR must be constants alone, holding
    what the ONNX reference computes."""
    names = [f"y{i}" for i in range(outputs)]
    node = helper.make_node(op_type, list(constants), names, name="node", **attrs)
    model = make_model([node], {}, {n: (None, FLOAT) for n in names}, opset, constants)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert set(ir_layer_types(xml)) == {"Const", "Result"}, ir_layer_types(xml)
    actual = run_openvino(xml, {})
    for name, expected in zip(names, ReferenceEvaluator(model).run(None, {})):
        np.testing.assert_array_equal(actual[name], expected, err_msg=name)


BLOCKS = np.arange(2 * 8 * 2 * 3, dtype=np.float32).reshape(2, 8, 2, 3)


@pytest.mark.parametrize("op_type", ["DepthToSpace", "SpaceToDepth"])
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_block_moves_fold(tmp_path, op_type, mode):
    data = BLOCKS if op_type == "DepthToSpace" else BLOCKS.reshape(2, 2, 4, 6)
    _folded(op_type, 13 if op_type == "DepthToSpace" else 28, {"x": data}, tmp_path,
            blocksize=2, mode=mode)


def test_depth_to_space_opset1_reads_dcr(tmp_path):
    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2)
    model = make_model([node], {"x": ([1, 8, 2, 3], FLOAT)}, {"y": (None, FLOAT)}, 1)
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("batch_axis, time_axis", [(1, 0), (0, 1)])
def test_reverse_sequence_folds(tmp_path, batch_axis, time_axis):
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    data = data if batch_axis == 1 else data.T
    _folded("ReverseSequence", 10, {"x": data, "lengths": np.int64([4, 1, 2])}, tmp_path,
            batch_axis=batch_axis, time_axis=time_axis)


def test_non_zero_folds(tmp_path):
    _folded("NonZero", 13, {"x": np.float32([[0, 1.5, 0], [2, 0, -1]])}, tmp_path)


@pytest.mark.parametrize("k, dtype", [(0, None), (-1, TensorProto.INT32), (2, FLOAT)])
def test_eye_like_of_a_static_shape_folds(tmp_path, k, dtype):
    attrs = {"k": k} if dtype is None else {"k": k, "dtype": dtype}
    _folded("EyeLike", 9, {"x": np.zeros((3, 4), np.float32)}, tmp_path, **attrs)


def test_one_hot_opset9_with_constant_depth(tmp_path):
    node = helper.make_node("OneHot", ["indices", "depth", "values"], ["y"], axis=0)
    model = make_model([node], {"indices": ([2, 3], INT64)}, {"y": (None, FLOAT)}, 9,
                       {"depth": np.float32([4]), "values": np.float32([-1, 2])})
    convert_and_compare(model, tmp_path, feeds={"indices": np.int64([[0, 3, 1], [2, 5, 0]])})


def test_one_hot_folds(tmp_path):
    _folded("OneHot", 11, {"indices": np.int64([0, -1, 7, 2]), "depth": np.int64(3),
                           "values": np.float32([0, 5])}, tmp_path)


def test_center_crop_pad_with_constant_shape(tmp_path):
    node = helper.make_node("CenterCropPad", ["x", "shape"], ["y"], axes=[-1, 0])
    model = make_model([node], {"x": ([5, 3, 4], FLOAT)}, {"y": (None, FLOAT)}, 18,
                       {"shape": np.int64([7, 2])})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    feeds = {"x": np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)}
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    expected = ReferenceEvaluator(model).run(None, feeds)[0]
    np.testing.assert_array_equal(run_openvino(xml, feeds)["y"], expected)


@pytest.mark.parametrize("attrs", [{}, {"sorted": 0}, {"axis": 1, "sorted": 0}])
def test_unique_of_2d_input(tmp_path, attrs):
    outputs = ["y", "indices", "inverse", "counts"]
    node = helper.make_node("Unique", ["x"], outputs, **attrs)
    model = make_model([node], {"x": ([3, 4], FLOAT)},
                       {"y": (None, FLOAT), **{n: (None, INT64) for n in outputs[1:]}}, 11)
    x = np.float32([[1, 3, 1, 3], [2, 0, 2, 0], [1, 3, 1, 3]])
    convert_and_compare(model, tmp_path, feeds={"x": x})
