"""Tiny hand-built models shared by the tests: a Conv+ReLU in ONNX and the same in IR.

The IR is built with `converter.graph` and written by `converter.ir.writer`, so the tests do
not depend on any frontend.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CHANNELS_IN, CHANNELS_OUT, SIZE = 3, 4, 8
INPUT_SHAPE = (1, CHANNELS_IN, SIZE, SIZE)
OUTPUT_SHAPE = (1, CHANNELS_OUT, SIZE, SIZE)


def conv_weights(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((CHANNELS_OUT, CHANNELS_IN, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(CHANNELS_OUT).astype(np.float32)
    return weights, bias


def write_onnx_conv_relu(path: Path, weights: np.ndarray, bias: np.ndarray) -> Path:
    """x [1,3,8,8] -> Conv 3x3 pad 1 -> Relu -> y."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["conv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["conv"], ["y"])],
        "conv_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(OUTPUT_SHAPE))],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def conv_relu_graph(weights: np.ndarray, bias: np.ndarray, preprocessing: dict | None = None):
    """The IR of the ONNX model above; `preprocessing` (mean, scale, reverse) adds the ops the
    Model Optimizer bakes in before the convolution."""
    from converter.graph import Graph

    graph = Graph("conv_relu")
    x = graph.parameter("x", INPUT_SHAPE, "f32")
    if preprocessing:
        x = _preprocess(graph, x, preprocessing)
    conv = graph.op("Convolution", x, graph.const(weights, "w"), name="conv",
                    strides=[1, 1], dilations=[1, 1], pads_begin=[1, 1], pads_end=[1, 1],
                    auto_pad="explicit")
    added = graph.op("Add", conv, graph.const(bias.reshape(1, -1, 1, 1), "b"), name="conv/bias",
                     auto_broadcast="numpy")
    graph.result(graph.op("ReLU", added, name="y"), "y")
    return graph


def _preprocess(graph, x, preprocessing: dict):
    if preprocessing.get("reverse"):
        x = graph.op("Gather", x, graph.const(np.array([2, 1, 0], np.int64)),
                     graph.const(np.array(1, np.int64)), name="reverse", batch_dims=0)
    mean = np.asarray(preprocessing["mean"], np.float32).reshape(1, -1, 1, 1)
    scale = np.asarray(preprocessing["scale"], np.float32).reshape(1, -1, 1, 1)
    x = graph.op("Subtract", x, graph.const(mean, "mean"), name="mean", auto_broadcast="numpy")
    return graph.op("Divide", x, graph.const(scale, "scale"), name="scale", auto_broadcast="numpy")


def write_conv_relu_ir(xml_path: Path, weights: np.ndarray, bias: np.ndarray,
                       preprocessing: dict | None = None) -> Path:
    from converter.ir.writer import write_ir

    write_ir(conv_relu_graph(weights, bias, preprocessing), xml_path)
    return xml_path
