"""ONNX reductions (ReduceMean/Max/Min/Sum/Prod/L1/L2/SumSquare/LogSum/LogSumExp): the onnx
wheel's node cases (axes as a run-time model input, empty axes, noop_with_empty_axes, boolean
and empty inputs), plus the readings those cases miss: axes as an attribute before opset 18,
constant axes folded, and the errors for what cannot be converted."""
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

OPERATORS = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1",
             "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp")
FLOAT = TensorProto.FLOAT


@pytest.mark.parametrize("case", cases_of(*OPERATORS), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _positive_feeds(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Inputs in [0.5, 1.5): logs of sums stay finite."""
    rng = np.random.default_rng(0)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return {"x0": (rng.random(shape) + 0.5).astype(np.float32)}


@pytest.mark.parametrize("op", OPERATORS)
@pytest.mark.parametrize("axes,keepdims", [([1], 1), ([0, -1], 0), (None, 0)])
def test_axes_attribute_before_opset_18(tmp_path, op, axes, keepdims):
    attrs = {} if axes is None else {"axes": axes}
    model = single_op(op, [(2, 3, 4)], 11, keepdims=keepdims, **attrs)
    convert_and_compare(model, tmp_path, feeds=_positive_feeds(model), rtol=1e-4)


@pytest.mark.parametrize("op", OPERATORS)
def test_constant_axes_are_read_at_conversion(tmp_path, op):
    """Axes given as an initializer need none of the run-time axes handling."""
    axes = np.array([0, 2], np.int64)
    model = single_op(op, [(2, 3, 4)], 18, initializers={"axes": axes}, keepdims=0)
    xml = convert_and_compare(model, tmp_path, feeds=_positive_feeds(model), rtol=1e-4)
    assert not {"TopK", "ShapeOf", "Concat"} & set(ir_layer_types(xml))


@pytest.mark.parametrize("op,expected", [("ReduceSum", 45.0), ("ReduceL2", np.sqrt(285.0)),
                                         ("ReduceLogSumExp", None)])
def test_constant_data_folds(tmp_path, op, expected):
    data = np.arange(10, dtype=np.float32).reshape(2, 5)
    node = helper.make_node(op, ["data", "axes"], ["y"], keepdims=0)
    model = make_model([node], {}, {"y": (None, FLOAT)}, 18,
                       {"data": data, "axes": np.array([0, 1], np.int64)})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    if expected is None:
        expected = np.log(np.sum(np.exp(data)))
    assert not {"ReduceSum", "ReduceL2", "ReduceMax"} & set(ir_layer_types(xml))
    np.testing.assert_allclose(run_openvino(xml, {})["y"], expected, rtol=1e-5)


@pytest.mark.parametrize("op,infinity", [("ReduceMax", -np.inf), ("ReduceMin", np.inf)])
def test_extremes_over_infinities_alone_are_infinite(tmp_path, op, infinity):
    """A row of -inf has the maximum -inf (OpenVINO's CPU plugin alone would give the lowest
    finite float); a row whose maximum is the lowest finite float keeps it."""
    lowest = np.finfo(np.float32).min * np.sign(-infinity)
    x = np.array([[infinity] * 3, [lowest, infinity, lowest], [1, 2, infinity]], np.float32)
    model = single_op(op, [(3, 3)], 13, axes=[1], keepdims=0)
    xml = convert_and_compare(model, tmp_path, feeds={"x0": x})
    np.testing.assert_array_equal(run_openvino(xml, {"x0": x})["y0"],
                                  [infinity, lowest, 1 if infinity > 0 else 2])


def test_runtime_axes_of_unknown_length_reduce_everything_when_empty(tmp_path):
    """An axes input of unknown length may be empty at run time: then every axis is reduced."""
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)
    model = make_model([node], {"x": ((2, 3), FLOAT), "axes": (["n"], TensorProto.INT64)},
                       {"y": (None, FLOAT)}, 18)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    convert_and_compare(model, tmp_path, feeds={"x": x, "axes": np.array([], np.int64)})
    convert_and_compare(model, tmp_path, feeds={"x": x, "axes": np.array([1], np.int64)})


def test_noop_with_empty_axes_attribute(tmp_path):
    model = single_op("ReduceSumSquare", [(2, 3)], 18, noop_with_empty_axes=1)
    convert_and_compare(model, tmp_path)


def test_negative_axis_of_unknown_rank_is_an_error(tmp_path):
    model = single_op("ReduceMean", [None], 13, axes=[-1])
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match=r"ReduceMean node 'reducemean_node'.*rank"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


# Running reductions: CumSum (OpenVINO's CumSum) and CumProd (decomposed).

@pytest.mark.parametrize("case", cases_of("CumSum", "CumProd"), ids=case_id)
def test_cumulative_node_case(case):
    assert_conforms(case)


def _cumulative(op: str, axis: np.ndarray | None, **attrs) -> onnx.ModelProto:
    """`op` over x (2, 3, 4) with a zero and negatives in it; the axis an initializer, or a
    model input when `axis` is None."""
    node = helper.make_node(op, ["x", "axis"], ["y"], **attrs)
    inputs = {"x": ((2, 3, 4), FLOAT)}
    if axis is None:
        inputs["axis"] = ((), TensorProto.INT64)
    return make_model([node], inputs, {"y": (None, FLOAT)}, 14,
                      None if axis is None else {"axis": axis})


def _cumulative_feeds(axis: int | None = None) -> dict[str, np.ndarray]:
    x = np.random.default_rng(1).uniform(-2, 2, (2, 3, 4)).astype(np.float32)
    x[1, 1, 2] = 0.0
    return {"x": x} if axis is None else {"x": x, "axis": np.array(axis, np.int64)}


def _cum_prod(x: np.ndarray, axis: int, exclusive: int, reverse: int) -> np.ndarray:
    if reverse:
        x = np.flip(x, axis)
    products = np.cumprod(x, axis=axis)
    if exclusive:
        ones = np.ones_like(np.take(products, [0], axis))
        products = np.concatenate([ones, np.take(products, range(x.shape[axis] - 1), axis)], axis)
    return np.flip(products, axis) if reverse else products


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("runtime_axis", [False, True])
def test_cum_prod_axes_and_flags(tmp_path, axis, exclusive, reverse, runtime_axis):
    model = _cumulative("CumProd", None if runtime_axis else np.array(axis, np.int64),
                        exclusive=exclusive, reverse=reverse)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    feeds = _cumulative_feeds(axis if runtime_axis else None)
    expected = _cum_prod(feeds["x"], axis, exclusive, reverse)
    np.testing.assert_allclose(run_openvino(xml, feeds)["y"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 1)])
def test_cum_sum_constant_axis(tmp_path, exclusive, reverse):
    model = _cumulative("CumSum", np.array(1, np.int64), exclusive=exclusive, reverse=reverse)
    convert_and_compare(model, tmp_path, feeds=_cumulative_feeds())


@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cum_sum_folds_constant_data(tmp_path, exclusive, reverse):
    data = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    node = helper.make_node("CumSum", ["data", "axis"], ["y"], exclusive=exclusive,
                            reverse=reverse)
    model = make_model([node], {}, {"y": (None, FLOAT)}, 14,
                       {"data": data, "axis": np.array(1, np.int64)})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert "CumSum" not in ir_layer_types(xml)
    source = np.flip(data, 1) if reverse else data
    expected = np.cumsum(source, axis=1) - (source if exclusive else 0)
    expected = np.flip(expected, 1) if reverse else expected
    np.testing.assert_allclose(run_openvino(xml, {})["y"], expected)


def test_cum_prod_of_a_scalar_is_an_error(tmp_path):
    model = make_model([helper.make_node("CumProd", ["x", "axis"], ["y"], name="running")],
                       {"x": ((), FLOAT)}, {"y": (None, FLOAT)}, 14,
                       {"axis": np.array(0, np.int64)})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match=r"CumProd node 'running'.*scalar"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")
