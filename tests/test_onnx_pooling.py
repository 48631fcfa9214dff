"""Pooling: MaxPool (dilations, ceil_mode, the Indices output in both storage orders),
AveragePool (ceil_mode, count_include_pad, dilations through a window-sum convolution), LpPool
and GlobalLpPool. The onnx wheel's node cases, plus comparisons with onnxruntime for the
combinations they miss and the errors for what cannot be converted."""
from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from converter import convert
from converter.errors import UserInputError
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, make_model, single_op

FLOAT = TensorProto.FLOAT
OPERATORS = ("MaxPool", "AveragePool", "LpPool", "GlobalLpPool", "GlobalAveragePool",
             "GlobalMaxPool")


@pytest.mark.parametrize("case", cases_of(*OPERATORS), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _max_pool_with_indices(shape: tuple, opset: int = 12, **attrs) -> onnx.ModelProto:
    node = helper.make_node("MaxPool", ["x"], ["y", "indices"], **attrs)
    return make_model([node], {"x": (shape, FLOAT)},
                      {"y": (None, FLOAT), "indices": (None, TensorProto.INT64)}, opset)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [2, 3], "dilations": [2, 1], "ceil_mode": 1, "strides": [2, 2]},
    {"kernel_shape": [2, 2], "storage_order": 1, "strides": [1, 2]},
    {"kernel_shape": [3, 2], "storage_order": 1, "pads": [1, 0, 1, 1], "dilations": [1, 2]},
])
def test_max_pool_indices(tmp_path, attrs):
    convert_and_compare(_max_pool_with_indices((2, 3, 7, 8), **attrs), tmp_path)


def test_max_pool_indices_of_3d_data(tmp_path):
    model = _max_pool_with_indices((1, 2, 5, 4, 6), kernel_shape=[2, 2, 3], strides=[2, 1, 2])
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3], "dilations": [2], "strides": [2], "pads": [2, 1]},
    {"kernel_shape": [2], "strides": [2], "pads": [1, 1], "ceil_mode": 1},
    {"kernel_shape": [3], "strides": [2], "auto_pad": "SAME_UPPER"},
])
def test_max_pool_1d(tmp_path, attrs):
    convert_and_compare(single_op("MaxPool", [(1, 2, 11)], 12, **attrs), tmp_path)


@pytest.mark.parametrize("attrs", [
    # the last window of ceil_mode would start on the end padding: ONNX drops it
    {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1,
     "count_include_pad": 1},
    {"kernel_shape": [2, 2], "dilations": [2, 2], "pads": [1, 0, 0, 1]},
    {"kernel_shape": [2, 2], "dilations": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1},
    {"kernel_shape": [3, 2], "dilations": [2, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [3, 2], "dilations": [2, 3], "strides": [2, 2], "ceil_mode": 1,
     "pads": [1, 1, 1, 1], "count_include_pad": 1},
])
def test_average_pool(tmp_path, attrs):
    convert_and_compare(single_op("AveragePool", [(1, 3, 6, 7)], 19, **attrs), tmp_path)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [2, 2], "dilations": [2, 1], "ceil_mode": 1, "strides": [2, 2]},
    {"kernel_shape": [2, 3], "auto_pad": "SAME_LOWER"},
])
def test_lp_pool(tmp_path, p, attrs):
    convert_and_compare(single_op("LpPool", [(1, 2, 5, 6)], 18, p=p, **attrs), tmp_path,
                        rtol=1e-4)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_global_lp_pool(tmp_path, p):
    convert_and_compare(single_op("GlobalLpPool", [(2, 3, 4, 5)], 2, p=p), tmp_path, rtol=1e-4)


def _convert(tmp_path, model):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return convert(path, output_dir=tmp_path / "ir", model_name="model")


@pytest.mark.parametrize("attrs", [{"dilations": [2, 2]},
                                   {"ceil_mode": 1, "count_include_pad": 1}])
def test_average_pool_decomposition_needs_static_spatial_dims(tmp_path, attrs):
    node = helper.make_node("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[2, 2],
                            **attrs)
    model = make_model([node], {"x": ((1, 3, "h", 8), FLOAT)}, {"y": (None, FLOAT)}, 19)
    with pytest.raises(UserInputError, match=r"AveragePool node 'pool'.*static"):
        _convert(tmp_path, model)


def test_pool_without_kernel_shape_is_an_error(tmp_path):
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool")
    model = make_model([node], {"x": ((1, 3, 4, 4), FLOAT)}, {"y": (None, FLOAT)}, 12)
    with pytest.raises(UserInputError, match=r"MaxPool node 'pool'.*kernel_shape"):
        _convert(tmp_path, model)


def test_lp_pool_p_must_be_positive(tmp_path):
    node = helper.make_node("LpPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], p=0)
    model = make_model([node], {"x": ((1, 3, 4, 4), FLOAT)}, {"y": (None, FLOAT)}, 18)
    with pytest.raises(UserInputError, match=r"LpPool node 'pool'.*p 0"):
        _convert(tmp_path, model)
