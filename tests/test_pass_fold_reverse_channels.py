"""fold_reverse_channels: the Gather that reverses an input's channels folds into the weights of
the first convolution, by hand-built graphs and end to end from ONNX, TensorFlow and an Object
Detection API export."""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from lxml import etree
from onnx import TensorProto, helper, numpy_helper

from converter import convert
from converter.graph import Graph, Output
from converter.options import ConversionOptions
from converter.passes import active_passes, fold_reverse_channels, run_passes
from graph_helpers import (conv_attrs, finegrain, op_counts, rng_input, run_graph, snapshot,
                           structure)
from modelzoo.runtime import run_onnxruntime, run_openvino, run_tf_graph
from tf_support import feeds_for

RNG = np.random.default_rng(3)
WEIGHTS = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
MEAN = np.array([10.0, 20.0, 30.0], np.float32)


def reverse(g: Graph, x: Output, axis: int, order=(2, 1, 0)) -> Output:
    return g.op("Gather", x, g.const(np.array(order, np.int64)), g.const(np.array(axis, np.int64)),
                name="reverse", batch_dims=0)


def nchw_graph(order=(2, 1, 0), conv="Convolution", second_reader=False, multiplier=np.float32(0.5)) -> Graph:
    """x [1,3,8,8] -> Gather(order) -> Subtract(mean [1,3,1,1]) -> Multiply -> conv -> y
    (no Gather when `order` is None)."""
    g = Graph("nchw")
    x = g.parameter("x", (1, 3, 8, 8), "f32")
    if order is not None:
        x = reverse(g, x, 1, order)
    x = g.op("Subtract", x, g.const(MEAN.reshape(1, 3, 1, 1), "mean"), auto_broadcast="numpy")
    if second_reader:
        g.result(g.op("ReLU", x), "side")
    x = g.op("Multiply", x, g.const(multiplier, "scale"), auto_broadcast="numpy")
    weights = WEIGHTS if conv == "Convolution" else WEIGHTS.reshape(1, 4, 3, 3, 3)
    g.result(g.op(conv, x, g.const(weights, "weights"), **conv_attrs()), "y")
    return g


def nhwc_graph() -> Graph:
    """u8 x [1,8,8,3] -> Gather(axis 3) -> Convert -> Multiply([3]) -> Subtract -> Transpose -> Conv."""
    g = Graph("nhwc")
    x = reverse(g, g.parameter("x", (1, 8, 8, 3), "u8"), 3)
    x = g.op("Convert", x, destination_type="f32")
    x = g.op("Multiply", x, g.const(np.array([0.5, 2.0, 4.0], np.float32), "scale"), auto_broadcast="numpy")
    x = g.op("Subtract", x, g.const(np.float32(100.0), "mean"), auto_broadcast="numpy")
    x = g.op("Transpose", x, g.const(np.array([0, 3, 1, 2], np.int64)))
    g.result(g.op("Convolution", x, g.const(WEIGHTS, "weights"), **conv_attrs()), "y")
    return g


def constant_read_by(g: Graph, op: str, index: int = 1) -> np.ndarray:
    return next(n for n in g.nodes() if n.op == op).inputs[index].value


def assert_same_results(before: Graph, after: Graph, tmp_path: Path, feeds: dict) -> None:
    expected = run_graph(before, tmp_path / "before", feeds)
    actual = run_graph(after, tmp_path / "after", feeds)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-5, atol=1e-5 * np.ptp(value), err_msg=name)


@pytest.mark.parametrize("order", [(2, 1, 0), (1, 2, 0)])
def test_nchw_reversal_folds_into_weights_and_mean(tmp_path, order):
    graph = nchw_graph(order)
    before = snapshot(graph)
    assert fold_reverse_channels.run(graph) == 1
    graph.infer_shapes()
    assert op_counts(graph)["Gather"] == 0
    inverse = np.argsort(order)
    np.testing.assert_array_equal(constant_read_by(graph, "Convolution"), WEIGHTS[:, inverse])
    np.testing.assert_array_equal(constant_read_by(graph, "Subtract").ravel(), MEAN[inverse])
    assert constant_read_by(graph, "Multiply") == np.float32(0.5)
    x = rng_input((1, 3, 8, 8), low=0, high=255)
    gathered_in_numpy = run_graph(nchw_graph(order=None), tmp_path / "reference", {"x": x[:, list(order)]})
    assert_close_to_range(run_graph(graph, tmp_path / "folded", {"x": x})["y"], gathered_in_numpy["y"])
    # The unfolded graph only as a reference for a self-inverse order: OpenVINO's CPU plugin,
    # given a Gather feeding a Convolution, applies the inverse of the Gather's order.
    if order == (2, 1, 0):
        assert_same_results(before, graph, tmp_path, {"x": x})


def test_nhwc_u8_chain_through_convert_and_transpose(tmp_path):
    graph = nhwc_graph()
    before = snapshot(graph)
    assert fold_reverse_channels.run(graph) == 1
    graph.infer_shapes()
    assert op_counts(graph)["Gather"] == 0
    assert graph.parameters[0].outputs[0].element_type == "u8"
    np.testing.assert_array_equal(constant_read_by(graph, "Multiply"), [4.0, 2.0, 0.5])
    np.testing.assert_array_equal(constant_read_by(graph, "Convolution"), WEIGHTS[:, ::-1])
    image = np.random.default_rng(5).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    assert_same_results(before, graph, tmp_path, {"x": image})


def test_fp16_weights_behind_a_decompression_convert():
    g = Graph()
    x = reverse(g, g.parameter("x", (1, 3, 8, 8), "f32"), 1)
    half = g.op("Convert", g.const(WEIGHTS.astype(np.float16)), destination_type="f32")
    half.node.rt_info["decompression"] = "0"
    g.result(g.op("Convolution", x, half, **conv_attrs()), "y")
    assert fold_reverse_channels.run(g) == 1
    decompression = next(n for n in g.nodes() if n.op == "Convolution").inputs[1].node
    assert decompression.op == "Convert" and decompression.rt_info == {"decompression": "0"}
    np.testing.assert_array_equal(decompression.inputs[0].value, WEIGHTS.astype(np.float16)[:, ::-1])


def non_constant_operand() -> Graph:
    g = Graph()
    x = reverse(g, g.parameter("x", (1, 3, 8, 8), "f32"), 1)
    x = g.op("Add", x, g.parameter("bias", (1, 3, 1, 1), "f32"), auto_broadcast="numpy")
    g.result(g.op("Convolution", x, g.const(WEIGHTS), **conv_attrs()), "y")
    return g


def read_twice() -> Graph:
    g = Graph()
    x = reverse(g, g.parameter("x", (1, 3, 8, 8), "f32"), 1)
    g.result(x, "reversed")
    g.result(g.op("Convolution", x, g.const(WEIGHTS), **conv_attrs()), "y")
    return g


LEFT_ALONE = {
    "gather_read_twice": read_twice,
    "chain_read_twice": lambda: nchw_graph(second_reader=True),
    "group_convolution": lambda: nchw_graph(conv="GroupConvolution"),
    "spatial_constant": lambda: nchw_graph(multiplier=RNG.uniform(1, 2, (1, 1, 8, 8)).astype(np.float32)),
    "non_constant_operand": non_constant_operand,
}


def test_naming_a_node_the_fold_changes_keeps_the_gather(tmp_path):
    """--finegrain_fusing naming the Gather, the Subtract whose per-channel mean the fold would
    permute, or the Convolution: nothing changes. The Multiply by a scalar is not changed by the
    fold, so naming it (or a node outside the chain) lets the Gather fold."""
    names = {n.op: n.name for n in nchw_graph().nodes()}
    for op in ("Gather", "Subtract", "Convolution"):
        graph = nchw_graph()
        before = snapshot(graph)
        assert fold_reverse_channels.run(graph, finegrain(names[op])) == 0, op
        assert structure(graph) == structure(before), op
    feeds = {"x": rng_input((1, 3, 8, 8), low=0, high=255)}
    assert_same_results(before, graph, tmp_path / "kept", feeds)
    for unrelated in (names["Multiply"], "x"):
        graph = nchw_graph()
        assert fold_reverse_channels.run(graph, finegrain(unrelated)) == 1, unrelated
        assert op_counts(graph)["Gather"] == 0
    assert_same_results(before, graph, tmp_path / "folded", feeds)


def test_the_gather_preprocessing_adds_is_named_after_its_input(tmp_path):
    """What a user names to keep --reverse_input_channels' Gather: INPUT/reverse_input_channels."""
    kept = ConversionOptions.from_flags({"reverse_input_channels": True,
                                         "finegrain_fusing": "x/reverse_input_channels"})
    graph = nchw_graph(order=None)
    run_passes(graph, kept)
    assert [n.name for n in graph.nodes() if n.op == "Gather"] == ["x/reverse_input_channels"]
    graph = nchw_graph(order=None)
    run_passes(graph, ConversionOptions.from_flags({"reverse_input_channels": True}))
    assert op_counts(graph)["Gather"] == 0


@pytest.mark.parametrize("case", sorted(LEFT_ALONE))
def test_what_does_not_fit_is_left_alone(tmp_path, case):
    graph = LEFT_ALONE[case]()
    before = snapshot(graph)
    assert fold_reverse_channels.run(graph) == 0
    assert op_counts(graph) == op_counts(before) and op_counts(graph)["Gather"] == 1
    feeds = {p.name: rng_input(p.outputs[0].shape, seed=i) for i, p in enumerate(graph.parameters)}
    assert_same_results(before, graph, tmp_path, feeds)


def test_disable_fusing_keeps_the_gather():
    assert "fold_reverse_channels" in active_passes(ConversionOptions.from_flags({}))
    options = ConversionOptions.from_flags({"disable_fusing": True})
    assert "fold_reverse_channels" not in active_passes(options)
    graph = nchw_graph()
    run_passes(graph, options)
    assert op_counts(graph)["Gather"] == 1


# -- end to end ------------------------------------------------------------------------------
def layer_types(xml: Path) -> list[str]:
    return [layer.get("type") for layer in etree.parse(str(xml)).iter("layer")]


def assert_close_to_range(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * np.ptp(expected))


def onnx_conv_net(path: Path) -> Path:
    """x [1,3,16,16] -> Conv 3x3 (8) -> Relu -> Conv 1x1 (5) -> y."""
    rng = np.random.default_rng(11)
    weights = {"w1": rng.normal(0, 0.3, (8, 3, 3, 3)), "b1": rng.normal(0, 0.1, 8),
               "w2": rng.normal(0, 0.3, (5, 8, 1, 1))}
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c1"], ["r1"]),
         helper.make_node("Conv", ["r1", "w2"], ["y"])],
        "conv_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnx_conv_net_end_to_end(tmp_path):
    source = onnx_conv_net(tmp_path / "net.onnx")
    mean, scale = np.array([123.7, 116.3, 103.5], np.float32), np.array([58.4, 57.1, 57.4], np.float32)
    flags = {"reverse_input_channels": True, "mean_values": mean.tolist(), "scale_values": scale.tolist()}
    xml = convert(source, tmp_path / "FP32", "net", **flags)
    assert "Gather" not in layer_types(xml)
    again = convert(source, tmp_path / "again", "net", **flags)
    assert again.read_bytes() == xml.read_bytes()
    assert again.with_suffix(".bin").read_bytes() == xml.with_suffix(".bin").read_bytes()
    assert "Gather" not in layer_types(convert(source, tmp_path / "FP16", "net", data_type="FP16", **flags))
    bgr = np.random.default_rng(2).uniform(0, 255, (1, 3, 16, 16)).astype(np.float32)
    rgb_normalized = (bgr[:, ::-1] - mean.reshape(1, 3, 1, 1)) / scale.reshape(1, 3, 1, 1)
    expected = run_onnxruntime(source, {"x": np.ascontiguousarray(rgb_normalized)})["y"]
    assert_close_to_range(run_openvino(xml, {"x": bgr})["y"], expected)


def test_tf_frozen_conv_graph_end_to_end(tmp_path):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(12)
    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [1, 16, 16, 3], name="x")
        y = tf.nn.conv2d(x, tf.constant(rng.normal(0, 0.3, (3, 3, 3, 6)).astype(np.float32)), 1, "SAME")
        y = tf.nn.relu(tf.nn.bias_add(y, tf.constant(rng.normal(0, 0.1, 6).astype(np.float32))), name="y")
    pb = tmp_path / "net.pb"
    pb.write_bytes(graph.as_graph_def().SerializeToString())
    xml = convert(pb, tmp_path / "ir", "net", reverse_input_channels=True)
    assert "Gather" not in layer_types(xml)
    bgr = rng.uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    expected = run_tf_graph(pb, {"x:0": np.ascontiguousarray(bgr[..., ::-1])}, ["y:0"])["y:0"]
    assert_close_to_range(run_openvino(xml, feeds_for({"x": bgr}))["y:0"], expected)


def test_odapi_ssd_export_has_no_gather_after_its_image(tmp_path):
    with tarfile.open(Path(__file__).parent / "data" / "ssd_mobilenet_v2_tiny_voc.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    export = tmp_path / "ssd_mobilenet_v2_tiny_voc"
    xml = convert(export / "frozen_inference_graph.pb", tmp_path / "ir", "ssd", reverse_input_channels=True,
                  tensorflow_object_detection_api_pipeline_config=str(export / "pipeline.config"))
    root = etree.parse(str(xml)).getroot()
    types = {layer.get("id"): layer.get("type") for layer in root.iter("layer")}
    image = next(layer.get("id") for layer in root.iter("layer") if layer.get("name") == "image_tensor")
    readers = [types[edge.get("to-layer")] for edge in root.iter("edge") if edge.get("from-layer") == image]
    assert readers and "Gather" not in readers
