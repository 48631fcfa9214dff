"""The ONNX frontend's further handlers, each against onnxruntime on a small model."""
from __future__ import annotations

import numpy as np
import openvino as ov
import pytest
from onnx import TensorProto, helper

from onnx_testing import FLOAT, convert_and_compare, make_model, random_feeds, single_op

INT64 = TensorProto.INT64


def ints(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Floor", "Ceil", "Erf",
                                "Softplus", "HardSwish"])
def test_unary(tmp_path, op):
    opset = 14 if op == "HardSwish" else 13
    convert_and_compare(single_op(op, [(2, 3, 4)], opset), tmp_path)


@pytest.mark.parametrize("op", ["Log", "Sqrt"])
def test_unary_positive(tmp_path, op):
    feeds = {"x0": np.abs(random_feeds(single_op(op, [(3, 4)], 13))["x0"]) + 0.1}
    convert_and_compare(single_op(op, [(3, 4)], 13), tmp_path, feeds=feeds)


@pytest.mark.parametrize("op, attrs", [
    ("LeakyRelu", {}), ("LeakyRelu", {"alpha": 0.3}), ("Elu", {}), ("Elu", {"alpha": 0.5}),
    ("HardSigmoid", {}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
])
def test_parametrized_activations(tmp_path, op, attrs):
    convert_and_compare(single_op(op, [(2, 3, 4)], 13, **attrs), tmp_path)


@pytest.mark.parametrize("slope_shape", [(3, 1, 1), (1,), (4,), (2, 3, 1, 4)])
def test_prelu(tmp_path, slope_shape):
    slope = np.random.default_rng(0).uniform(0.1, 0.5, slope_shape).astype(np.float32)
    convert_and_compare(single_op("PRelu", [(2, 3, 5, 4)], 9, initializers={"s": slope}),
                        tmp_path)


def test_pow(tmp_path):
    model = single_op("Pow", [(3, 4)], 13, initializers={"e": np.float32([2.0, 3.0, 1.0, 0.5])})
    feeds = {"x0": np.random.default_rng(0).uniform(0.5, 2, (3, 4)).astype(np.float32)}
    convert_and_compare(model, tmp_path, feeds=feeds)


@pytest.mark.parametrize("op", ["Max", "Min", "Sum", "Mean"])
@pytest.mark.parametrize("count", [1, 3])
def test_variadic(tmp_path, op, count):
    convert_and_compare(single_op(op, [(2, 3)] * (count - 1) + [(3,)], 13), tmp_path)


@pytest.mark.parametrize("op", ["Equal", "Less", "Greater"])
def test_comparison(tmp_path, op):
    model = single_op(op, [(2, 3), (3,)], 13, out_type=TensorProto.BOOL)
    feeds = {"x0": np.float32([[1, 2, 3], [3, 2, 1]]), "x1": np.float32([1, 2, 2])}
    convert_and_compare(model, tmp_path, feeds=feeds)


@pytest.mark.parametrize("opset, axes", [(11, [1, 3]), (11, None), (13, [-1]), (13, None)])
def test_squeeze(tmp_path, opset, axes):
    init = {"axes": ints(*axes)} if opset >= 13 and axes else {}
    attrs = {"axes": axes} if opset < 13 and axes else {}
    convert_and_compare(single_op("Squeeze", [(2, 1, 3, 1)], opset, initializers=init, **attrs),
                        tmp_path)


@pytest.mark.parametrize("opset, axes", [(11, [0, 3]), (13, [-1]), (13, [1, -1])])
def test_unsqueeze(tmp_path, opset, axes):
    init = {"axes": ints(*axes)} if opset >= 13 else {}
    attrs = {"axes": axes} if opset < 13 else {}
    convert_and_compare(single_op("Unsqueeze", [(2, 3)], opset, initializers=init, **attrs),
                        tmp_path)


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd"])
@pytest.mark.parametrize("opset, axes, keepdims", [(11, [1], 1), (11, None, 0), (18, [0, -1], 0),
                                                   (18, None, 1)])
def test_reduce(tmp_path, op, opset, axes, keepdims):
    as_input = opset >= 18 or (op == "ReduceSum" and opset >= 13)
    init = {"axes": ints(*axes)} if as_input and axes else {}
    attrs = {"axes": axes} if not as_input and axes else {}
    model = single_op(op, [(2, 3, 4)], opset, initializers=init, keepdims=keepdims, **attrs)
    convert_and_compare(model, tmp_path, rtol=1e-5)


def test_reduce_sum_axes_input_at_13(tmp_path):
    model = single_op("ReduceSum", [(2, 3, 4)], 13, initializers={"axes": ints(1)})
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
@pytest.mark.parametrize("opset", [2, 11])
def test_pad(tmp_path, mode, opset):
    pads = [0, 1, 2, 0, 2, 1]
    if opset < 11:
        model = single_op("Pad", [(2, 4, 5)], opset, mode=mode, pads=pads, value=1.5)
    else:
        init = {"pads": ints(*pads), "value": np.float32(1.5)}
        if mode != "constant":
            init.pop("value")
        model = single_op("Pad", [(2, 4, 5)], opset, initializers=init, mode=mode)
    convert_and_compare(model, tmp_path)


def test_pad_axes_opset18(tmp_path):
    init = {"pads": ints(1, 2, 3, 0), "value": np.float32(0.5), "axes": ints(-1, 1)}
    convert_and_compare(single_op("Pad", [(2, 3, 4)], 18, initializers=init), tmp_path)


@pytest.mark.parametrize("opset, attrs", [(13, {}), (15, {"start": 1}),
                                          (15, {"start": -2, "end": -1})])
def test_shape(tmp_path, opset, attrs):
    convert_and_compare(single_op("Shape", [(2, 3, 4)], opset, out_type=INT64, **attrs), tmp_path)


@pytest.mark.parametrize("axis, indices", [(0, ints(1, 0, 1)), (1, ints(-1)), (2, ints(3)),
                                           (1, np.array([[0, 2], [1, 1]], np.int64))])
def test_gather(tmp_path, axis, indices):
    model = single_op("Gather", [(2, 3, 4)], 13, initializers={"i": indices}, axis=axis)
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("to, out", [(TensorProto.INT32, TensorProto.INT32),
                                     (TensorProto.FLOAT16, TensorProto.FLOAT16),
                                     (TensorProto.INT64, INT64)])
def test_cast(tmp_path, to, out):
    model = single_op("Cast", [(3, 4)], 13, out_type=out, to=to)
    feeds = {"x0": np.float32(np.arange(12).reshape(3, 4) * 0.75)}
    convert_and_compare(model, tmp_path, feeds=feeds)


@pytest.mark.parametrize("attr, value", [("value_floats", [1.0, 2.0]), ("value_int", 3)])
def test_constant(tmp_path, attr, value):
    nodes = [helper.make_node("Constant", [], ["c"], **{attr: value}),
             helper.make_node("Cast", ["c"], ["cf"], to=FLOAT),
             helper.make_node("Add", ["x", "cf"], ["y"])]
    model = make_model(nodes, {"x": ((2,), FLOAT)}, {"y": (None, FLOAT)}, 13)
    convert_and_compare(model, tmp_path)


def test_constant_tensor_and_constant_of_shape(tmp_path):
    shape = helper.make_tensor("s", INT64, [2], [2, 3])
    fill = helper.make_tensor("v", FLOAT, [1], [0.25])
    nodes = [helper.make_node("Constant", [], ["shape"], value=shape),
             helper.make_node("ConstantOfShape", ["shape"], ["c"], value=fill),
             helper.make_node("Mul", ["x", "c"], ["y"])]
    model = make_model(nodes, {"x": ((2, 3), FLOAT)}, {"y": (None, FLOAT)}, 13)
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("starts, ends, axes, steps", [
    ([1], [3], [1], None), ([0, -3], [2, 100], [0, 2], None), ([3, 4], [0, 0], [1, 2], [-1, -2]),
    ([0, 1, 1], [1, 100, 5], None, [1, 2, 1]),
])
def test_slice(tmp_path, starts, ends, axes, steps):
    init = {"s": ints(*starts), "e": ints(*ends)}
    if axes is not None or steps is not None:
        init["a"] = ints(*(axes if axes is not None else range(len(starts))))
    if steps is not None:
        init["t"] = ints(*steps)
    convert_and_compare(single_op("Slice", [(2, 5, 6)], 13, initializers=init), tmp_path)


def test_slice_attributes_opset9(tmp_path):
    model = single_op("Slice", [(2, 5, 6)], 9, starts=[1, 0], ends=[4, -1], axes=[1, 2])
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("opset, split, outputs, attrs", [
    (11, None, 3, {"axis": 1}), (11, [1, 2, 4], 3, {"axis": -1}), (13, [4, 2], 2, {"axis": 1}),
    (18, None, 3, {"axis": 1, "num_outputs": 3}), (18, None, 4, {"axis": 2, "num_outputs": 4}),
])
def test_split(tmp_path, opset, split, outputs, attrs):
    init = {"split": ints(*split)} if split and opset >= 13 else {}
    if split and opset < 13:
        attrs = {**attrs, "split": split}
    model = single_op("Split", [(2, 6, 7)], opset, initializers=init, outputs_count=outputs,
                      **attrs)
    convert_and_compare(model, tmp_path)


def test_range(tmp_path):
    init = {"start": np.float32(1.0), "limit": np.float32(4.0), "delta": np.float32(0.5)}
    nodes = [helper.make_node("Range", ["start", "limit", "delta"], ["r"]),
             helper.make_node("Add", ["x", "r"], ["y"])]
    model = make_model(nodes, {"x": ((2, 6), FLOAT)}, {"y": (None, FLOAT)}, 13, init)
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("shape", [(2, 1, 4), (3, 1, 1), (1, 1)])
def test_expand(tmp_path, shape):
    model = single_op("Expand", [(3, 1)], 13, initializers={"s": ints(*shape)})
    convert_and_compare(model, tmp_path)


def test_tile(tmp_path):
    convert_and_compare(single_op("Tile", [(2, 3)], 13, initializers={"r": ints(2, 3)}), tmp_path)


@pytest.mark.parametrize("size, bias", [(3, 1.0), (3, 1.5), (5, 2.0), (5, 0.5)])
def test_lrn(tmp_path, size, bias):
    model = single_op("LRN", [(1, 7, 4, 4)], 13, size=size, alpha=0.3, beta=0.75, bias=bias)
    convert_and_compare(model, tmp_path)


def test_shape_subgraph_becomes_static(tmp_path):
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape: the handlers see the constant, so
    the IR's shapes are static."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "zero_axis"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    init = {"zero": np.array(0, np.int64), "zero_axis": ints(0), "minus_one": ints(-1)}
    model = make_model(nodes, {"x": ((2, 3, 4), FLOAT)}, {"y": (None, FLOAT)}, 13, init)
    xml = convert_and_compare(model, tmp_path)
    output = ov.Core().read_model(str(xml)).outputs[0]
    assert output.get_partial_shape().to_shape() == [2, 12]


def test_integer_div_truncates_toward_zero_as_onnx_does(tmp_path):
    """OpenVINO's Divide floors integers by default; ONNX Div truncates (-7 / 2 == -3)."""
    model = make_model([helper.make_node("Div", ["a", "b"], ["y"])],
                       {"a": ([6], TensorProto.INT32), "b": ([6], TensorProto.INT32)},
                       {"y": ([6], TensorProto.INT32)}, opset=13)
    feeds = {"a": np.array([-7, 7, -8, 9, -1, 0], np.int32), "b": np.array([2, -2, 3, 4, 3, 5], np.int32)}
    convert_and_compare(model, tmp_path, feeds, rtol=0, atol=0)
