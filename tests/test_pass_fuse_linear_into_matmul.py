"""fuse_linear_into_matmul: scale-shift chains after a MatMul fold into its weights and one bias
Add; a per-channel Multiply before a Convolution or MatMul folds into its weights."""
import numpy as np
import pytest

from converter.graph import Graph
from converter.passes import constant_folding, fuse_linear_into_matmul
from graph_helpers import (conv_attrs, finegrain, op_counts, rng_input, run_graph, snapshot,
                           structure)
from onnx_testing import ir_layer_types

RNG = np.random.default_rng(7)


def f32(*shape, low=None, high=None):
    if low is not None:
        return RNG.uniform(low, high, shape).astype(np.float32)
    return RNG.standard_normal(shape).astype(np.float32)


def binary(g, op, a, b):
    return g.op(op, a, b, auto_broadcast="numpy")


def dense_bn_graph(transpose_b=False, rank=2, extra_consumer=False) -> Graph:
    """Dense (MatMul + bias) then an inference BatchNorm as frontends leave it once folded:
    Multiply by a factor, Add a shift; plus a Subtract and a Divide by constants."""
    g = Graph("dense_bn")
    shape = (2, 5) if rank == 2 else (2, 3, 5)
    x = g.parameter("x", shape, "f32")
    w = f32(6, 5) if transpose_b else f32(5, 6)
    y = g.op("MatMul", x, g.const(w), transpose_a=False, transpose_b=transpose_b)
    y = binary(g, "Add", y, g.const(f32(6)))
    if extra_consumer:
        g.result(g.op("ReLU", y), "side")
    y = binary(g, "Multiply", y, g.const(f32(1, 6, low=0.5, high=2)))
    y = binary(g, "Subtract", y, g.const(f32(6)))
    y = binary(g, "Divide", y, g.const(np.float32(4)))
    y = binary(g, "Add", g.const(f32(6)), y)
    g.result(g.op("ReLU", y), "y")
    return g


def assert_same_outputs(before, after, tmp_path, feeds, names=("y",)):
    expected = run_graph(before, tmp_path / "before", feeds)
    actual = run_graph(after, tmp_path / "after", feeds)
    for name in names:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("transpose_b,rank", [(False, 2), (True, 2), (False, 3)])
def test_scale_shift_chain_becomes_matmul_plus_one_bias_add(tmp_path, transpose_b, rank):
    graph = dense_bn_graph(transpose_b, rank)
    before = snapshot(graph)
    assert fuse_linear_into_matmul.run(graph) > 0
    constant_folding.run(graph)
    counts = op_counts(graph)
    assert counts["MatMul"] == 1 and counts["Add"] == 1
    assert counts["Multiply"] == counts["Subtract"] == counts["Divide"] == 0
    [add] = [n for n in graph.nodes() if n.op == "Add"]
    assert add.inputs[0].node.op == "MatMul"  # the biased FullyConnected form
    shape = (2, 5) if rank == 2 else (2, 3, 5)
    assert_same_outputs(before, graph, tmp_path, {"x": rng_input(shape)})


def test_a_node_read_elsewhere_is_not_folded(tmp_path):
    graph = dense_bn_graph(extra_consumer=True)
    before = snapshot(graph)
    fuse_linear_into_matmul.run(graph)
    constant_folding.run(graph)
    counts = op_counts(graph)
    assert counts["Multiply"] == 1  # the Add before it is also read by "side"
    assert counts["Add"] == 2
    assert_same_outputs(before, graph, tmp_path, {"x": rng_input((2, 5))}, ("y", "side"))


def test_a_constant_varying_along_rows_is_left_alone():
    g = Graph()
    x = g.parameter("x", (3, 5), "f32")
    y = g.op("MatMul", x, g.const(f32(5, 4)), transpose_a=False, transpose_b=False)
    g.result(binary(g, "Multiply", y, g.const(f32(3, 1))), "y")
    assert fuse_linear_into_matmul.run(g) == 0


def test_matmul_of_two_variables_is_left_alone():
    g = Graph()
    x = g.parameter("x", (3, 5), "f32")
    w = g.parameter("w", (5, 4), "f32")
    y = g.op("MatMul", x, w, transpose_a=False, transpose_b=False)
    g.result(binary(g, "Multiply", y, g.const(f32(4))), "y")
    assert fuse_linear_into_matmul.run(g) == 0


@pytest.mark.parametrize("transpose_b", [False, True])
def test_a_scale_before_a_matmul_folds_into_its_rows(tmp_path, transpose_b):
    g = Graph("pre_scale_matmul")
    x = g.parameter("x", (2, 5), "f32")
    scaled = binary(g, "Multiply", x, g.const(f32(5, low=0.5, high=2)))
    w = f32(4, 5) if transpose_b else f32(5, 4)
    g.result(g.op("MatMul", scaled, g.const(w), transpose_a=False, transpose_b=transpose_b), "y")
    before = snapshot(g)
    assert fuse_linear_into_matmul.run(g) == 1
    assert dict(op_counts(g)) == {"Parameter": 1, "Const": 1, "MatMul": 1, "Result": 1}
    assert_same_outputs(before, g, tmp_path, {"x": rng_input((2, 5))})


def test_a_scale_before_a_padded_convolution_folds_into_its_input_channels(tmp_path):
    g = Graph("pre_scale_conv")
    x = g.parameter("x", (1, 3, 6, 6), "f32")
    scaled = binary(g, "Divide", x, g.const(f32(1, 3, 1, 1, low=0.5, high=2)))
    g.result(g.op("Convolution", scaled, g.const(f32(4, 3, 3, 3)), **conv_attrs()), "y")
    before = snapshot(g)
    assert fuse_linear_into_matmul.run(g) == 1
    assert dict(op_counts(g)) == {"Parameter": 1, "Const": 1, "Convolution": 1, "Result": 1}
    assert_same_outputs(before, g, tmp_path, {"x": rng_input((1, 3, 6, 6))})


def test_a_spatially_varying_scale_before_a_convolution_stays():
    g = Graph()
    x = g.parameter("x", (1, 3, 4, 4), "f32")
    scaled = binary(g, "Multiply", x, g.const(f32(1, 1, 4, 4)))
    g.result(g.op("Convolution", scaled, g.const(f32(2, 3, 1, 1)), **conv_attrs((0, 0))), "y")
    assert fuse_linear_into_matmul.run(g) == 0


# -- --finegrain_fusing --------------------------------------------------------------------------
def compute_nodes(graph: Graph) -> list[str]:
    return [n.name for n in graph.nodes() if n.op not in ("Parameter", "Const", "Result", "ReLU")]


def test_naming_the_matmul_or_its_scale_shift_keeps_the_chain(tmp_path):
    """The MatMul, its bias Add or the BatchNorm's Multiply named: nothing is folded, reordered,
    or scaled in place (the guard is asked before the weights are touched)."""
    names = compute_nodes(dense_bn_graph())[:3]
    assert [name.split("_")[0] for name in names] == ["MatMul", "Add", "Multiply"]
    for name in names:
        graph = dense_bn_graph()
        before = snapshot(graph)
        assert fuse_linear_into_matmul.run(graph, finegrain(name)) == 0, name
        assert structure(graph) == structure(before), name
    assert_same_outputs(before, graph, tmp_path, {"x": rng_input((2, 5))})


def test_a_named_node_later_in_the_chain_stays_and_splits_it(tmp_path):
    """As the Model Optimizer's sequence fusing stopped at a node it may not fuse: what comes
    before the named Subtract still folds into the MatMul; the Subtract stays."""
    graph = dense_bn_graph()
    subtract = next(n.name for n in graph.nodes() if n.op == "Subtract")
    before = snapshot(graph)
    assert fuse_linear_into_matmul.run(graph, finegrain(subtract)) > 0
    assert [n.op for n in graph.nodes() if n.name == subtract] == ["Subtract"]
    assert op_counts(graph)["Multiply"] == 0  # the BatchNorm's scale went into the weights
    assert_same_outputs(before, graph, tmp_path, {"x": rng_input((2, 5))})


def test_names_outside_the_chain_let_it_fold(tmp_path):
    graph = dense_bn_graph()
    before = snapshot(graph)
    assert fuse_linear_into_matmul.run(graph, finegrain("x", "y", "side")) > 0
    constant_folding.run(graph)
    counts = op_counts(graph)
    assert counts["MatMul"] == counts["Add"] == 1 and counts["Multiply"] == 0
    assert_same_outputs(before, graph, tmp_path, {"x": rng_input((2, 5))})


@pytest.mark.parametrize("op", ["MatMul", "Convolution"])
def test_naming_the_scale_or_the_op_it_feeds_keeps_the_scale(tmp_path, op):
    def build():
        g = Graph("pre_scale")
        shape = (2, 5) if op == "MatMul" else (1, 3, 6, 6)
        x = g.parameter("x", shape, "f32")
        scale = g.const(f32(5, low=0.5, high=2) if op == "MatMul"
                        else f32(1, 3, 1, 1, low=0.5, high=2))
        scaled = g.op("Multiply", x, scale, name="input_scale", auto_broadcast="numpy")
        if op == "MatMul":
            y = g.op("MatMul", scaled, g.const(f32(5, 4)), name="dense", transpose_a=False,
                     transpose_b=False)
        else:
            y = g.op("Convolution", scaled, g.const(f32(4, 3, 3, 3)), name="dense", **conv_attrs())
        g.result(y, "y")
        return g

    for name in ("input_scale", "dense"):
        graph = build()
        before = snapshot(graph)
        assert fuse_linear_into_matmul.run(graph, finegrain(name)) == 0
        assert structure(graph) == structure(before)
    feeds = {"x": rng_input(graph.parameters[0].outputs[0].shape)}
    assert_same_outputs(before, graph, tmp_path / "kept", feeds)
    assert fuse_linear_into_matmul.run(graph, finegrain("x", "y")) == 1
    assert op_counts(graph)["Multiply"] == 0
    assert_same_outputs(before, graph, tmp_path / "fused", feeds)


# -- through the converter: Keras Dense + BatchNormalization from TensorFlow ---------------------
def dense_bn_pb(tmp_path):
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    tf.keras.utils.set_random_seed(0)
    dense = tf.keras.layers.Dense(6)
    bn = tf.keras.layers.BatchNormalization()
    dense.build((None, 5))
    bn.build((None, 6))
    bn.moving_mean.assign(np.linspace(-1, 1, 6).astype(np.float32))
    bn.moving_variance.assign(np.linspace(0.5, 2, 6).astype(np.float32))
    function = tf.function(lambda x: bn(dense(x), training=False)).get_concrete_function(
        tf.TensorSpec((2, 5), tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(function)
    pb = tmp_path / "dense_bn.pb"
    pb.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    return pb, frozen.outputs[0].name


@pytest.mark.parametrize("disable_fusing", [False, True])
def test_keras_dense_batchnorm_converts_to_matmul_and_bias(tmp_path, disable_fusing):
    from tf_support import compare

    pb, output = dense_bn_pb(tmp_path)
    xml = compare(tmp_path, pb, {"x": rng_input((2, 5))}, [output], disable_fusing=disable_fusing)
    layers = ir_layer_types(xml)
    if disable_fusing:
        assert "Multiply" in layers
    else:
        assert layers.count("MatMul") == 1 and layers.count("Add") == 1
        assert not {"Multiply", "Subtract", "Divide"} & set(layers), layers
