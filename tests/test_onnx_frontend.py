"""The ONNX frontend's core handlers, each checked against onnxruntime on a one-node model."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from converter import convert
from modelzoo.runtime import run_openvino

from onnx_testing import FLOAT, convert_and_compare, ir_layer_types, make_model, single_op

RNG = np.random.default_rng(42)


def weights(*shape: int, scale: float = 0.3) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


@pytest.mark.parametrize("spatial, kernel, attrs", [
    ((9,), (3,), {}),
    ((8, 8), (3, 3), {"pads": [1, 1, 1, 1]}),
    ((9, 7), (3, 2), {"strides": [2, 1], "pads": [1, 0, 2, 1]}),
    ((9, 9), (3, 3), {"dilations": [2, 2]}),
    ((7, 7), (3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((8, 8), (2, 2), {"auto_pad": "SAME_LOWER"}),
    ((7, 7), (3, 3), {"auto_pad": "VALID", "strides": [2, 2]}),
    ((5, 6, 5), (3, 3, 3), {"pads": [1, 1, 1, 1, 1, 1]}),
])
@pytest.mark.parametrize("bias", [False, True])
def test_conv(tmp_path, spatial, kernel, attrs, bias):
    init = {"w": weights(6, 4, *kernel)}
    if bias:
        init["b"] = weights(6)
    model = single_op("Conv", [(2, 4, *spatial)], 11, initializers=init,
                      kernel_shape=list(kernel), **attrs)
    xml = convert_and_compare(model, tmp_path, rtol=1e-4)
    assert "Convolution" in ir_layer_types(xml)


@pytest.mark.parametrize("groups, in_channels, out_channels", [(2, 4, 6), (4, 4, 4), (3, 6, 3)])
def test_group_conv(tmp_path, groups, in_channels, out_channels):
    init = {"w": weights(out_channels, in_channels // groups, 3, 3), "b": weights(out_channels)}
    model = single_op("Conv", [(1, in_channels, 6, 6)], 13, initializers=init, group=groups,
                      pads=[1, 1, 1, 1])
    xml = convert_and_compare(model, tmp_path, rtol=1e-4)
    assert "GroupConvolution" in ir_layer_types(xml)


@pytest.mark.parametrize("opset", [9, 15])
@pytest.mark.parametrize("rank", [2, 4])
def test_batch_normalization(tmp_path, opset, rank):
    channels = 5
    init = {"scale": weights(channels), "bias": weights(channels), "mean": weights(channels),
            "var": np.abs(weights(channels)) + 0.5}
    shape = (2, channels, 4, 3)[:rank]
    model = single_op("BatchNormalization", [shape], opset, initializers=init, epsilon=1e-3)
    xml = convert_and_compare(model, tmp_path)
    assert "Multiply" in ir_layer_types(xml)


def test_relu(tmp_path):
    convert_and_compare(single_op("Relu", [(2, 3, 4)], 13), tmp_path)


@pytest.mark.parametrize("opset, attrs, bounds", [
    (6, {"min": -0.5, "max": 0.7}, {}),
    (6, {"max": 0.2}, {}),
    (13, {}, {"lo": np.float32(-0.3), "hi": np.float32(0.4)}),
    (13, {}, {"lo": np.float32(-0.3)}),
])
def test_clip_constant_bounds(tmp_path, opset, attrs, bounds):
    initializers = {k: np.asarray(v) for k, v in bounds.items()}
    model = single_op("Clip", [(3, 4)], opset, initializers=initializers, **attrs)
    xml = convert_and_compare(model, tmp_path)
    assert "Clamp" in ir_layer_types(xml)


def test_clip_dynamic_bounds(tmp_path):
    node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
    model = make_model([node], {"x": ((3, 4), FLOAT), "lo": ((), FLOAT), "hi": ((), FLOAT)},
                       {"y": (None, FLOAT)}, 13)
    feeds = {"x": weights(3, 4, scale=1), "lo": np.array(-0.2, np.float32),
             "hi": np.array(0.5, np.float32)}
    xml = convert_and_compare(model, tmp_path, feeds=feeds)
    assert {"Maximum", "Minimum"} <= set(ir_layer_types(xml))


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("shapes", [[(2, 3, 4), (2, 3, 4)], [(2, 3, 4), (4,)], [(3, 1), (1, 5)]])
def test_binary(tmp_path, op, shapes):
    convert_and_compare(single_op(op, shapes, 13), tmp_path, rtol=1e-5)


def test_legacy_broadcast_with_axis(tmp_path):
    """onnxruntime no longer runs opset 6 Add: numpy gives the expected values."""
    bias = weights(3)
    model = single_op("Add", [(2, 3, 4, 5)], 6, initializers={"b": bias}, broadcast=1, axis=1)
    onnx.save(model, str(tmp_path / "m.onnx"))
    xml = convert(tmp_path / "m.onnx", output_dir=tmp_path, model_name="m")
    x = weights(2, 3, 4, 5)
    result = run_openvino(xml, {"x0": x})["y0"]
    np.testing.assert_allclose(result, x + bias.reshape(3, 1, 1), rtol=1e-6)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [2, 2], "strides": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [3, 2], "strides": [1, 2], "pads": [0, 1, 2, 0]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
    {"kernel_shape": [3, 3], "auto_pad": "VALID"},
])
def test_max_pool(tmp_path, attrs):
    convert_and_compare(single_op("MaxPool", [(1, 3, 8, 9)], 12, **attrs), tmp_path)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [2, 2], "strides": [2, 2]},
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [3], "strides": [2], "pads": [1, 1]},
])
def test_average_pool(tmp_path, attrs):
    rank_extra = (9,) if len(attrs["kernel_shape"]) == 1 else (8, 9)
    convert_and_compare(single_op("AveragePool", [(1, 3, *rank_extra)], 11, **attrs), tmp_path)


def test_max_pool_dilations(tmp_path):
    model = single_op("MaxPool", [(1, 3, 8, 8)], 12, kernel_shape=[2, 2], dilations=[2, 2])
    convert_and_compare(model, tmp_path)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 4, 6)])
def test_global_pool(tmp_path, op, shape):
    convert_and_compare(single_op(op, [shape], 13), tmp_path)


@pytest.mark.parametrize("attrs, bias_shape", [
    ({}, (5,)),
    ({"alpha": 0.5, "beta": 2.0, "transB": 1}, (1, 5)),
    ({"transA": 1, "transB": 1, "alpha": 1.5}, (3, 5)),
    ({"beta": 0.0}, (5,)),
    ({"alpha": 2.0}, None),
])
def test_gemm(tmp_path, attrs, bias_shape):
    a_shape = (4, 3) if attrs.get("transA") else (3, 4)
    b = weights(5, 4) if attrs.get("transB") else weights(4, 5)
    init = {"b": b}
    if bias_shape:
        init["c"] = weights(*bias_shape)
    convert_and_compare(single_op("Gemm", [a_shape], 11, initializers=init, **attrs), tmp_path)


@pytest.mark.parametrize("shapes", [[(3, 4), (4, 5)], [(2, 3, 4), (4, 6)], [(4,), (2, 4, 3)],
                                    [(2, 1, 3, 4), (5, 4, 2)]])
def test_matmul(tmp_path, shapes):
    convert_and_compare(single_op("MatMul", shapes, 13), tmp_path)


@pytest.mark.parametrize("target, attrs", [
    ([0, -1], {}), ([2, 0, 2, 2], {}), ([-1], {}), ([4, 0], {"allowzero": 1}),
])
def test_reshape(tmp_path, target, attrs):
    shape = (4, 0) if attrs.get("allowzero") else (2, 3, 4)
    init = {"shape": np.array(target, np.int64)}
    model = single_op("Reshape", [shape], 14, initializers=init, **attrs)
    convert_and_compare(model, tmp_path, feeds={"x0": np.ones(shape, np.float32)})


def test_reshape_attribute_opset1(tmp_path):
    convert_and_compare(single_op("Reshape", [(2, 3, 4)], 1, shape=[0, 12]), tmp_path)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1])
def test_flatten(tmp_path, axis):
    convert_and_compare(single_op("Flatten", [(2, 3, 4, 5)], 13, axis=axis), tmp_path)


def test_flatten_dynamic(tmp_path):
    node = helper.make_node("Flatten", ["x"], ["y"], axis=2)
    model = make_model([node], {"x": (("n", 3, "h", 5), FLOAT)}, {"y": (None, FLOAT)}, 13)
    feeds = {"x": weights(2, 3, 4, 5)}
    xml = convert_and_compare(model, tmp_path, feeds=feeds)
    assert "ShapeOf" in ir_layer_types(xml)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(tmp_path, axis):
    shapes = [(2, 3, 4)] * 3
    convert_and_compare(single_op("Concat", shapes, 13, axis=axis), tmp_path)


@pytest.mark.parametrize("opset, axis, shape", [
    (9, None, (2, 10)), (9, None, (2, 5, 3, 1)), (11, 2, (2, 3, 4, 5)), (11, -1, (2, 3, 4)),
    (13, None, (2, 3, 4)), (13, 1, (2, 3, 4)), (13, -3, (2, 3, 4)),
])
def test_softmax(tmp_path, opset, axis, shape):
    attrs = {} if axis is None else {"axis": axis}
    convert_and_compare(single_op("Softmax", [shape], opset, **attrs), tmp_path, atol=1e-6)


@pytest.mark.parametrize("op, opset", [("Dropout", 7), ("Dropout", 13), ("Identity", 13)])
def test_dropped_ops(tmp_path, op, opset):
    nodes = [helper.make_node(op, ["x"], ["t"], name="dropped"),
             helper.make_node("Relu", ["t"], ["y"])]
    model = make_model(nodes, {"x": ((2, 3), FLOAT)}, {"y": (None, FLOAT)}, opset)
    xml = convert_and_compare(model, tmp_path)
    assert ir_layer_types(xml) == ["Parameter", "ReLU", "Result"]


@pytest.mark.parametrize("perm", [None, [0, 2, 1, 3], [3, 0, 1, 2]])
def test_transpose(tmp_path, perm):
    attrs = {} if perm is None else {"perm": perm}
    convert_and_compare(single_op("Transpose", [(2, 3, 4, 5)], 13, **attrs), tmp_path)
