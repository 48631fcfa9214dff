"""fuse_linear_into_conv: a decomposed BatchNorm after a convolution folds into its weights."""
import numpy as np
import pytest

from converter.graph import Graph
from converter.passes import constant_folding, fuse_linear_into_conv
from graph_helpers import conv_attrs, finegrain, op_counts, rng_input, run_graph, snapshot, structure


def conv_bn_graph(op: str = "Convolution", extra_consumer: bool = False) -> Graph:
    rng = np.random.default_rng(1)
    g = Graph("conv_bn")
    x = g.parameter("x", (1, 4, 8, 8), "f32")
    if op == "Convolution":
        w = g.const(rng.standard_normal((6, 4, 3, 3)).astype(np.float32))
    else:
        w = g.const(rng.standard_normal((2, 3, 2, 3, 3)).astype(np.float32))
    y = g.op(op, x, w, **conv_attrs())
    y = g.op("Add", y, g.const(rng.standard_normal((1, 6, 1, 1)).astype(np.float32)), auto_broadcast="numpy")
    if extra_consumer:
        g.result(g.op("ReLU", y), "side")
    y = g.op("Multiply", y, g.const(rng.uniform(0.5, 2, (1, 6, 1, 1)).astype(np.float32)), auto_broadcast="numpy")
    y = g.op("Add", y, g.const(rng.standard_normal((6, 1, 1)).astype(np.float32)), auto_broadcast="numpy")
    g.result(g.op("ReLU", y), "y")
    return g


@pytest.mark.parametrize("op", ["Convolution", "GroupConvolution"])
def test_scale_and_shifts_fold_into_the_convolution(tmp_path, op):
    graph = conv_bn_graph(op)
    before = snapshot(graph)
    assert fuse_linear_into_conv.run(graph) > 0
    constant_folding.run(graph)
    counts = op_counts(graph)
    assert counts["Multiply"] == 0 and counts["Add"] == 1
    feeds = {"x": rng_input((1, 4, 8, 8))}
    expected = run_graph(before, tmp_path / "before", feeds)["y"]
    np.testing.assert_allclose(run_graph(graph, tmp_path / "after", feeds)["y"], expected, rtol=1e-5, atol=1e-5)


def test_a_node_read_elsewhere_is_not_fused(tmp_path):
    graph = conv_bn_graph(extra_consumer=True)
    before = snapshot(graph)
    fuse_linear_into_conv.run(graph)
    assert op_counts(graph)["Multiply"] == 1  # the Add feeding it is also read by "side"
    feeds = {"x": rng_input((1, 4, 8, 8))}
    out_before = run_graph(before, tmp_path / "before", feeds)
    out_after = run_graph(graph, tmp_path / "after", feeds)
    for name in ("y", "side"):
        np.testing.assert_allclose(out_after[name], out_before[name], rtol=1e-5, atol=1e-5)


def test_a_constant_varying_along_space_is_left_alone():
    g = Graph()
    x = g.parameter("x", (1, 2, 4, 4), "f32")
    y = g.op("Convolution", x, g.const(np.ones((2, 2, 1, 1), np.float32)), **conv_attrs((0, 0)))
    y = g.op("Multiply", y, g.const(np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4)), auto_broadcast="numpy")
    g.result(y, "y")
    assert fuse_linear_into_conv.run(g) == 0


def test_weights_two_convolutions_share_are_copied_not_scaled_in_place(tmp_path):
    """Scaling in place (which keeps a model's weights in memory once) is only for weights that
    the fused convolution alone reads."""
    rng = np.random.default_rng(3)
    g = Graph("shared")
    x = g.parameter("x", (1, 4, 8, 8), "f32")
    w = g.const(rng.standard_normal((6, 4, 3, 3)).astype(np.float32))
    original = w.value.copy()
    scaled = g.op("Multiply", g.op("Convolution", x, w, **conv_attrs()),
                  g.const(rng.uniform(0.5, 2, (1, 6, 1, 1)).astype(np.float32)),
                  auto_broadcast="numpy")
    g.result(scaled, "scaled")
    g.result(g.op("Convolution", x, w, **conv_attrs()), "plain")
    before = snapshot(g)
    assert fuse_linear_into_conv.run(g) == 1
    np.testing.assert_array_equal(w.value, original)
    feeds = {"x": rng_input((1, 4, 8, 8))}
    expected = run_graph(before, tmp_path / "before", feeds)
    actual = run_graph(g, tmp_path / "after", feeds)
    for name in ("scaled", "plain"):
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-5)


def test_weights_only_the_fused_convolution_reads_are_scaled_in_place():
    graph = conv_bn_graph()
    [conv] = [n for n in graph.nodes() if n.op == "Convolution"]
    weights_node = conv.inputs[1].node
    fuse_linear_into_conv.run(graph)
    [fused] = [n for n in graph.nodes() if n.op == "Convolution"]
    assert fused.inputs[1].node is weights_node


# -- the seed's example end to end: multiplication, convolution and addition merged -------------
def onnx_scale_conv_scale_shift():
    """Multiply by a per-channel scale, a biased Conv, a per-channel Multiply and Add: what the
    Model Optimizer merged into one convolution."""
    from onnx import helper
    from onnx_testing import FLOAT, make_model

    rng = np.random.default_rng(11)
    nodes = [helper.make_node("Mul", ["x", "pre"], ["scaled"]),
             helper.make_node("Conv", ["scaled", "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["conv", "gain"], ["mul"]),
             helper.make_node("Add", ["mul", "shift"], ["y"])]
    inits = {"pre": rng.uniform(0.5, 2, (1, 3, 1, 1)).astype(np.float32),
             "w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "b": rng.standard_normal(4).astype(np.float32),
             "gain": rng.uniform(0.5, 2, (4, 1, 1)).astype(np.float32),
             "shift": rng.standard_normal((4, 1, 1)).astype(np.float32)}
    return make_model(nodes, {"x": ([1, 3, 6, 6], FLOAT)}, {"y": (None, FLOAT)}, 13, inits)


@pytest.mark.parametrize("disable_fusing", [False, True])
def test_seed_example_becomes_one_convolution_and_one_bias_add(tmp_path, disable_fusing):
    from onnx_testing import convert_and_compare, ir_layer_types

    xml = convert_and_compare(onnx_scale_conv_scale_shift(), tmp_path,
                              disable_fusing=disable_fusing)
    layers = [t for t in ir_layer_types(xml) if t not in ("Parameter", "Const", "Result")]
    if disable_fusing:
        assert layers.count("Multiply") == 2
    else:
        assert layers == ["Convolution", "Add"]


def test_keras_conv_batchnorm_from_tensorflow_becomes_convolution_and_add(tmp_path):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    from onnx_testing import ir_layer_types
    from tf_support import compare

    tf.keras.utils.set_random_seed(0)
    conv = tf.keras.layers.Conv2D(4, 3, padding="same")
    bn = tf.keras.layers.BatchNormalization()
    conv.build((1, 6, 6, 3))
    bn.build((1, 6, 6, 4))
    bn.moving_mean.assign(np.linspace(-1, 1, 4).astype(np.float32))
    bn.moving_variance.assign(np.linspace(0.5, 2, 4).astype(np.float32))
    function = tf.function(lambda x: bn(conv(x * 0.5), training=False)).get_concrete_function(
        tf.TensorSpec((1, 6, 6, 3), tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(function)
    pb = tmp_path / "conv_bn.pb"
    pb.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    xml = compare(tmp_path, pb, {"x": rng_input((1, 6, 6, 3))}, [frozen.outputs[0].name])
    layers = [t for t in ir_layer_types(xml) if t not in ("Parameter", "Const", "Result")]
    assert layers.count("Convolution") == 1 and layers.count("Add") == 1, layers
    assert not {"Multiply", "Subtract", "Divide"} & set(layers), layers


def test_a_convolution_named_by_finegrain_fusing_keeps_its_whole_chain():
    """Naming the Convolution keeps Conv -> Add -> Multiply -> Add as it was: not folded, and
    not reordered either (mo's --finegrain_fusing leaves the named node's pattern alone)."""
    graph = conv_bn_graph()
    conv = next(n for n in graph.nodes() if n.op == "Convolution")
    before = structure(graph)
    assert fuse_linear_into_conv.run(graph, finegrain(conv.name)) == 0
    assert structure(graph) == before
    other = conv_bn_graph()
    assert fuse_linear_into_conv.run(other, finegrain("not-in-the-graph")) > 0
