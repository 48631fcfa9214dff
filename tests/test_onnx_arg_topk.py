"""ArgMax, ArgMin and TopK (all on OpenVINO's TopK): the onnx wheel's node cases (ties,
select_last_index, k as a run-time input), plus what they miss: TopK's opset-1 attribute k,
dynamic axis lengths, constant folding, and Hardmax, which shares the TopK op."""
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

FLOAT = TensorProto.FLOAT


@pytest.mark.parametrize("case", cases_of("ArgMax", "ArgMin", "TopK"), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("last", [0, 1])
def test_ties_on_a_dynamic_axis(tmp_path, op, last):
    """Tied extremes along an axis of unknown length: the first (or last) index wins."""
    node = helper.make_node(op, ["x"], ["y"], axis=1, keepdims=0, select_last_index=last)
    model = make_model([node], {"x": ((2, "n"), FLOAT)}, {"y": (None, TensorProto.INT64)}, 12)
    x = np.array([[1, 3, 3, 0], [2, 2, 2, 2]], np.float32)
    if op == "ArgMin":
        x = -x
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    expected = [2, 3] if last else [1, 0]
    np.testing.assert_array_equal(run_openvino(xml, {"x": x})["y"], expected)


def test_arg_max_before_opset_12(tmp_path):
    model = single_op("ArgMax", [(3, 4, 5)], 11, out_type=TensorProto.INT64, axis=-1)
    convert_and_compare(model, tmp_path)


def test_top_k_attribute_k_at_opset_1(tmp_path):
    model = single_op("TopK", [(3, 6)], 1, outputs_count=2, k=2)
    model.graph.output[1].type.tensor_type.elem_type = TensorProto.INT64
    convert_and_compare(model, tmp_path)


def test_top_k_with_runtime_k(tmp_path):
    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=0, largest=0)
    model = make_model([node], {"x": ((5, 2), FLOAT), "k": ((1,), TensorProto.INT64)},
                       {"values": (None, FLOAT), "indices": (None, TensorProto.INT64)}, 11)
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    convert_and_compare(model, tmp_path, feeds={"x": x, "k": np.array([3], np.int64)})


def test_top_k_of_constants_folds(tmp_path):
    data = np.array([[3, 1, 2], [0, 5, 4]], np.float32)
    node = helper.make_node("TopK", ["data", "k"], ["values", "indices"])
    model = make_model([node], {}, {"values": (None, FLOAT), "indices": (None, TensorProto.INT64)},
                       11, {"data": data, "k": np.array([2], np.int64)})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert "TopK" not in ir_layer_types(xml)
    outputs = run_openvino(xml, {})
    np.testing.assert_array_equal(outputs["values"], [[3, 2], [5, 4]])
    np.testing.assert_array_equal(outputs["indices"], [[0, 2], [1, 2]])


def test_top_k_with_two_k_values_is_an_error(tmp_path):
    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], name="top")
    model = make_model([node], {"x": ((5,), FLOAT)},
                       {"values": (None, FLOAT), "indices": (None, TensorProto.INT64)}, 11,
                       {"k": np.array([1, 2], np.int64)})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match=r"TopK node 'top'.*k \[1, 2\]"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


@pytest.mark.parametrize("opset", [11, 13])
def test_hardmax_still_works(tmp_path, opset):
    model = single_op("Hardmax", [(2, 3, 4)], opset, axis=1)
    convert_and_compare(model, tmp_path)
