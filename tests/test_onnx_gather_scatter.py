"""Indexed reads and writes (Gather, GatherElements, GatherND, Scatter, ScatterElements,
ScatterND, TensorScatter, Compress, Where): the onnx wheel's node cases, which pass indices,
updates and conditions as model inputs, plus what they miss: constant inputs folded away by
the ops' numpy evaluation (every reduction, negative indices, batch_dims), run-time negative
indices, TensorScatter without write indices, and clear errors."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, ir_layer_types, make_model

OPERATORS = ("Gather", "GatherElements", "GatherND", "Scatter", "ScatterElements", "ScatterND",
             "TensorScatter", "Compress", "Where")
FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


@pytest.mark.parametrize("case", cases_of(*OPERATORS), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _folded_model(op_type: str, opset: int, constants: dict[str, np.ndarray],
                  **attrs) -> onnx.ModelProto:
    """One node whose inputs are all initializers, so that the converter folds it."""
    node = helper.make_node(op_type, list(constants), ["y"], name=f"{op_type.lower()}_node",
                            **attrs)
    return make_model([node], {}, {"y": (None, FLOAT)}, opset, constants)


def assert_folds(model: onnx.ModelProto, tmp_path, expected: np.ndarray | None = None) -> None:
    """The IR is constants alone, holding `expected` (by default what the ONNX reference
    computes)."""
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert set(ir_layer_types(xml)) == {"Const", "Result"}, ir_layer_types(xml)
    if expected is None:
        expected = ReferenceEvaluator(model).run(None, {})[0]
    actual = run_openvino(xml, {})["y"]
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


DATA = np.arange(12, dtype=np.float32).reshape(3, 4)


@pytest.mark.parametrize("axis, indices", [(0, [[0, -1, 1, 2]]), (1, [[3, -4], [0, 1], [-1, 2]])])
def test_gather_elements_folds(tmp_path, axis, indices):
    model = _folded_model("GatherElements", 13, {"data": DATA,
                                                 "indices": np.int64(indices)}, axis=axis)
    assert_folds(model, tmp_path)


@pytest.mark.parametrize("batch_dims, indices", [(0, [[1, -1], [0, 2]]), (0, [[2], [0]]),
                                                 (1, [[1], [-1], [0]])])
def test_gather_nd_folds(tmp_path, batch_dims, indices):
    model = _folded_model("GatherND", 13, {"data": DATA, "indices": np.int64(indices)},
                          batch_dims=batch_dims)
    assert_folds(model, tmp_path)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "min", "max"])
def test_scatter_elements_folds(tmp_path, reduction):
    constants = {"data": DATA, "indices": np.int64([[1, -3, 2, 0], [1, 0, 2, 2]]),
                 "updates": np.float32([[10, -20, 30, 40], [5, 6, 7, -8]])}
    if reduction == "none":  # repeated indices are undefined without a reduction
        constants["indices"] = np.int64([[1, -3, 2, 0], [2, 0, 1, 1]])
    model = _folded_model("ScatterElements", 18, constants, axis=0, reduction=reduction)
    assert_folds(model, tmp_path)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "min", "max"])
def test_scatter_nd_folds(tmp_path, reduction):
    # repeated indices are undefined without a reduction, and accumulate with one
    indices = np.int64([[2], [-3]] if reduction == "none" else [[2], [0], [2]])
    updates = np.arange(len(indices) * 4, dtype=np.float32).reshape(-1, 4) - 3
    constants = {"data": DATA, "indices": indices, "updates": updates}
    assert_folds(_folded_model("ScatterND", 18, constants, reduction=reduction), tmp_path)


def test_scatter_opset9_folds(tmp_path):
    constants = {"data": DATA, "indices": np.int64([[3, 1]]), "updates": np.float32([[-1, -2]])}
    expected = DATA.copy()
    expected[0, 3], expected[0, 1] = -1, -2
    assert_folds(_folded_model("Scatter", 9, constants, axis=1), tmp_path, expected)


def test_scatter_elements_runtime_negative_indices(tmp_path):
    node = helper.make_node("ScatterElements", ["data", "indices", "updates"], ["y"], axis=-1,
                            reduction="add")
    model = make_model([node], {"data": ([2, 5], FLOAT), "indices": ([2, 3], INT64),
                                "updates": ([2, 3], FLOAT)}, {"y": (None, FLOAT)}, 16)
    feeds = {"data": np.ones((2, 5), np.float32), "indices": np.int64([[-1, 0, -1], [2, -5, 4]]),
             "updates": np.float32([[1, 2, 3], [4, 5, 6]])}
    convert_and_compare(model, tmp_path, feeds=feeds)


def test_tensor_scatter_without_write_indices(tmp_path):
    node = helper.make_node("TensorScatter", ["cache", "update"], ["y"], axis=1)
    model = make_model([node], {"cache": ([2, 5, 3], FLOAT), "update": ([2, 2, 3], FLOAT)},
                       {"y": (None, FLOAT)}, 24)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    rng = np.random.default_rng(0)
    feeds = {"cache": rng.standard_normal((2, 5, 3)).astype(np.float32),
             "update": rng.standard_normal((2, 2, 3)).astype(np.float32)}
    expected = feeds["cache"].copy()
    expected[:, :2] = feeds["update"]
    np.testing.assert_array_equal(run_openvino(xml, feeds)["y"], expected)


def test_tensor_scatter_batch_axis_is_an_error(tmp_path):
    node = helper.make_node("TensorScatter", ["cache", "update"], ["y"], name="ts", axis=0)
    model = make_model([node], {"cache": ([2, 5], FLOAT), "update": ([1, 5], FLOAT)},
                       {"y": (None, FLOAT)}, 24)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match=r"TensorScatter node 'ts'.*batch axis"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


def test_compress_with_constant_condition(tmp_path):
    node = helper.make_node("Compress", ["x", "condition"], ["y"], axis=1)
    model = make_model([node], {"x": ([3, 4], FLOAT)}, {"y": (None, FLOAT)}, 11,
                       {"condition": np.array([True, False, True], np.bool_)})
    convert_and_compare(model, tmp_path)


def test_scatter_elements_unknown_reduction_is_an_error(tmp_path):
    node = helper.make_node("ScatterElements", ["data", "indices", "updates"], ["y"],
                            name="scatter", reduction="mean")
    model = make_model([node], {"data": ([2, 5], FLOAT), "indices": ([2, 3], INT64),
                                "updates": ([2, 3], FLOAT)}, {"y": (None, FLOAT)}, 18)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match=r"ScatterElements node 'scatter'.*'mean'"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")
