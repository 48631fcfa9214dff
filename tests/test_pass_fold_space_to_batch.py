"""The fold_space_to_batch pass: TF1's dilated convolutions (SpaceToBatchND -> Conv2D or
DepthwiseConv2dNative -> BatchToSpaceND) become one dilated Convolution, matching TensorFlow;
and on built graphs, the outputs before and after the pass agree and what does not fold stays.
The 1-D form (Keras' dilated Conv1D: a rank-3 SpaceToBatchND around a Conv2D of a unit axis,
with causal padding's Pad in front) folds too."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest

from converter.graph import Graph
from converter.passes import fold_space_to_batch
from graph_helpers import op_counts, rng_input, run_graph, snapshot
from tf_support import check_graph, random


def ir_layers(xml) -> list[ET.Element]:
    return list(ET.parse(xml).getroot().iter("layer"))


def ir_counts(xml) -> Counter:
    return Counter(layer.get("type") for layer in ir_layers(xml))


def atrous(tf, x, filters, rate, padding, depthwise=False):
    """What TF1's tf.nn.convolution wrote for a dilation rate: the op inside SpaceToBatchND."""
    def op(data, num_spatial_dims, padding):
        if depthwise:
            return tf.nn.depthwise_conv2d(data, filters, [1, 1, 1, 1], padding)
        return tf.nn.conv2d(data, filters, 1, padding)

    return tf.compat.v1.nn.with_space_to_batch(x, dilation_rate=rate, padding=padding, op=op,
                                               filter_shape=filters.shape[:2])


@pytest.mark.parametrize("rate,padding,depthwise", [
    ([2, 2], "SAME", False),
    ([2, 3], "VALID", False),
    ([3, 3], "SAME", True),
], ids=["same_rate2", "valid_rate2x3", "depthwise_same_rate3"])
def test_dilated_convolution_folds_and_matches_tensorflow(tf, tmp_path, rate, padding, depthwise):
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [1, 11, 10, 3], name="x")
        shape = (3, 3, 3, 1) if depthwise else (3, 3, 3, 4)
        y = atrous(tf, x, tf.constant(random(shape, 1)), rate, padding, depthwise)
        return tf.identity(tf.nn.relu(y), name="y")

    xml = check_graph(tf, tmp_path, graph, {"x": random([1, 11, 10, 3], seed=2)}, atol=1e-4)
    counts = ir_counts(xml)
    assert counts["SpaceToBatch"] == 0 and counts["BatchToSpace"] == 0, counts
    conv_type = "GroupConvolution" if depthwise else "Convolution"
    convs = [layer for layer in ir_layers(xml) if layer.get("type") == conv_type]
    assert len(convs) == 1
    assert convs[0].find("data").get("dilations") == ", ".join(str(r) for r in rate)
    assert counts["Transpose"] == 2, counts  # only the input's and the output's layout


def test_a_network_of_dilated_convolutions_keeps_no_layout_transposes_inside(tf, tmp_path):
    """conv -> atrous conv -> atrous conv -> conv: the Transposes between them all cancel."""
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [1, 12, 12, 3], name="x")
        y = tf.nn.relu(tf.nn.conv2d(x, tf.constant(random((3, 3, 3, 4), 1)), 1, "SAME"))
        y = tf.nn.relu(atrous(tf, y, tf.constant(random((3, 3, 4, 4), 2)), [2, 2], "SAME"))
        y = atrous(tf, y, tf.constant(random((3, 3, 4, 4), 3)), [4, 4], "SAME")
        y = tf.nn.conv2d(y, tf.constant(random((1, 1, 4, 2), 4)), 1, "VALID")
        return tf.identity(y, name="y")

    xml = check_graph(tf, tmp_path, graph, {"x": random([1, 12, 12, 3], seed=3)}, atol=1e-4)
    counts = ir_counts(xml)
    assert counts["Convolution"] == 4 and counts["Transpose"] == 2, counts
    assert counts["SpaceToBatch"] == 0 and counts["BatchToSpace"] == 0, counts


# -- built graphs (NCHW, no Transposes) ------------------------------------------------------

def trio(block=2, pads=(2, 3), crops=(0, 1), strides=(1, 1), extra_use=False) -> Graph:
    """x [1,3,9,8] -> SpaceToBatch -> Convolution 3x3 -> BatchToSpace (-> + SpaceToBatch's
    output summed when `extra_use`, so that the trio may not fold)."""
    g = Graph()
    x = g.parameter("x", (1, 3, 9, 8), "f32")
    ints = lambda v: g.const(np.asarray(v, dtype=np.int64))  # noqa: E731
    blocks = ints([1, 1, block, block])
    s2b = g.op("SpaceToBatch", x, blocks, ints([0, 0, pads[0], pads[0]]),
               ints([0, 0, pads[1], pads[1] + 1]), name="s2b")
    weights = g.const(rng_input((4, 3, 3, 3), seed=1))
    conv = g.op("Convolution", s2b, weights, name="conv", strides=list(strides),
                dilations=[1, 1], pads_begin=[0, 0], pads_end=[0, 0], auto_pad="explicit")
    out = g.op("BatchToSpace", conv, blocks, ints([0, 0, crops[0], crops[0]]),
               ints([0, 0, crops[1], crops[1]]), name="b2s")
    g.result(out, "y")
    if extra_use:
        g.result(g.op("ReduceSum", s2b, ints([0, 1, 2, 3]), keep_dims=False), "side")
    return g


def test_built_trio_folds_into_one_dilated_convolution(tmp_path):
    graph = trio()
    before = snapshot(graph)
    assert fold_space_to_batch.run(graph) == 1
    graph.infer_shapes()
    counts = op_counts(graph)
    assert counts["SpaceToBatch"] == counts["BatchToSpace"] == 0 and counts["Convolution"] == 1
    conv = next(n for n in graph.nodes() if n.op == "Convolution")
    assert conv.attrs["dilations"] == [2, 2]
    assert conv.attrs["pads_begin"] == [2, 2] and conv.attrs["pads_end"] == [2, 3]
    feeds = {"x": rng_input((1, 3, 9, 8), seed=4)}
    want = run_graph(before, tmp_path / "before", feeds)["y"]
    got = run_graph(graph, tmp_path / "after", feeds)["y"]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["strided", "shared", "negative_pads"])
def test_what_does_not_fold_stays(case):
    graph = {"strided": lambda: trio(strides=(2, 2), pads=(0, 1), crops=(0, 0)),
             "shared": lambda: trio(extra_use=True),
             "negative_pads": lambda: trio(pads=(0, 1), crops=(1, 0))}[case]()
    counts = op_counts(graph)
    assert fold_space_to_batch.run(graph) == 0
    assert op_counts(graph) == counts


def frozen_keras(tmp_path, layers, input_shape):
    """A Keras model of `layers` frozen to a GraphDef with a dynamic batch: (pb, output name)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input(input_shape)
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    model = tf.keras.Model(inputs, outputs)
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((None, *input_shape), tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(function)
    pb = tmp_path / "keras.pb"
    pb.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    return pb, frozen.outputs[0].name


def test_keras_dilated_convolutions_fold(tf, tmp_path):
    """Keras writes Conv2D(dilation_rate=r) as SpaceToBatchND -> Conv2D -> BatchToSpaceND too."""
    from tf_support import compare

    layers = tf.keras.layers
    pb, output = frozen_keras(tmp_path, [layers.Conv2D(4, 3, padding="same", dilation_rate=2,
                                                       activation="relu"),
                                         layers.Conv2D(3, 3, padding="valid", dilation_rate=3),
                                         layers.DepthwiseConv2D(3, padding="same",
                                                                dilation_rate=2)],
                              (13, 12, 3))
    xml = compare(tmp_path, pb, {"x": random([2, 13, 12, 3], seed=5)}, [output], atol=1e-4)
    counts = ir_counts(xml)
    assert counts["SpaceToBatch"] == 0 and counts["BatchToSpace"] == 0, counts
    assert counts["Convolution"] == 2 and counts["GroupConvolution"] == 1, counts
    assert counts["Transpose"] == 2, counts


# -- the 1-D form: a dilated Conv1D, run by TensorFlow as a 2-D convolution of a unit axis -----

def trio_1d(pads=(2, 2), padded: float | None = None) -> Graph:
    """x [1,10,3] (NWC) -> [Pad 4 steps in front, of `padded`] -> SpaceToBatch (block 2) ->
    Unsqueeze 1 -> Transpose to NCHW -> Convolution 1x3 -> Transpose back -> Squeeze 1 ->
    BatchToSpace, as the TensorFlow frontend translates a dilated Conv1D."""
    g = Graph()
    x = g.parameter("x", (1, 10, 3), "f32")
    ints = lambda v: g.const(np.asarray(v, dtype=np.int64))  # noqa: E731
    data = x
    if padded is not None:
        data = g.op("Pad", x, ints([0, 4, 0]), ints([0, 0, 0]),
                    g.const(np.asarray(padded, dtype=np.float32)), name="pad",
                    pad_mode="constant")
    blocks = ints([1, 2, 1])
    s2b = g.op("SpaceToBatch", data, blocks, ints([0, pads[0], 0]), ints([0, pads[1], 0]),
               name="s2b")
    wide = g.op("Unsqueeze", s2b, ints([1]), name="expand")
    nchw = g.op("Transpose", wide, ints([0, 3, 1, 2]), name="to_nchw")
    conv = g.op("Convolution", nchw, g.const(rng_input((4, 3, 1, 3), seed=1)), name="conv",
                strides=[1, 1], dilations=[1, 1], pads_begin=[0, 0], pads_end=[0, 0],
                auto_pad="explicit")
    nhwc = g.op("Transpose", conv, ints([0, 2, 3, 1]), name="to_nhwc")
    narrow = g.op("Squeeze", nhwc, ints([-3]), name="squeeze")  # the same axis, counted back
    g.result(g.op("BatchToSpace", narrow, blocks, ints([0, 0, 0]), ints([0, 0, 0]), name="b2s"),
             "y")
    return g


def folded_conv(graph: Graph):
    (conv,) = [n for n in graph.nodes() if n.op == "Convolution"]
    return conv


@pytest.mark.parametrize("case", ["same", "causal_pad", "non_zero_pad"])
def test_built_1d_trio_folds_into_one_dilated_convolution(tmp_path, case):
    """Same padding (pads in SpaceToBatch), causal (a zero Pad in front, folded too) and a Pad
    of ones (it stays: the convolution pads with zeros); the numbers do not change."""
    graph = {"same": lambda: trio_1d(),
             "causal_pad": lambda: trio_1d(pads=(0, 0), padded=0.0),
             "non_zero_pad": lambda: trio_1d(pads=(0, 0), padded=1.0)}[case]()
    before = snapshot(graph)
    assert fold_space_to_batch.run(graph) == 1
    graph.infer_shapes()
    counts = op_counts(graph)
    assert counts["SpaceToBatch"] == counts["BatchToSpace"] == 0, counts
    assert counts["Unsqueeze"] == counts["Squeeze"] == 1, counts
    assert counts["Pad"] == (1 if case == "non_zero_pad" else 0), counts
    conv = folded_conv(graph)
    assert conv.attrs["dilations"] == [1, 2]
    want_begin = {"same": 2, "causal_pad": 4, "non_zero_pad": 0}[case]
    want_end = 2 if case == "same" else 0
    assert (conv.attrs["pads_begin"], conv.attrs["pads_end"]) == ([0, want_begin], [0, want_end])
    assert conv.outputs[0].shape == (1, 4, 1, 10)
    feeds = {"x": rng_input((1, 10, 3), seed=4)}
    want = run_graph(before, tmp_path / "before", feeds)["y"]
    got = run_graph(graph, tmp_path / "after", feeds)["y"]
    assert got.shape == want.shape == (1, 10, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_1d_trio_with_a_mismatched_unit_axis_stays():
    """The Squeeze removes another axis than the Unsqueeze added: not the Conv1D pattern."""
    graph = trio_1d()
    squeeze = next(n for n in graph.nodes() if n.op == "Squeeze")
    squeeze.inputs[1] = graph.const(np.asarray([0], dtype=np.int64))  # the batch of one
    counts = op_counts(graph)
    assert fold_space_to_batch.run(graph) == 0
    assert op_counts(graph) == counts


@pytest.mark.parametrize("padding", ["same", "causal", "valid"])
def test_keras_dilated_conv1d_folds_and_matches_tensorflow(tf, tmp_path, padding):
    """Keras' Conv1D(dilation_rate=2): ExpandDims -> SpaceToBatchND -> Conv2D ->
    BatchToSpaceND -> Squeeze (causal: a Pad in front) becomes one dilated Convolution; a
    dynamic batch; then a second causal layer of rate 4, as temporal convolution nets stack
    them."""
    from tf_support import compare

    layers = tf.keras.layers
    pb, output = frozen_keras(tmp_path, [layers.Conv1D(4, 3, padding=padding, dilation_rate=2,
                                                       activation="relu"),
                                         layers.Conv1D(3, 2, padding="causal", dilation_rate=4)],
                              (16, 3))
    xml = compare(tmp_path, pb, {"x": random([2, 16, 3], seed=6)}, [output], atol=1e-4)
    counts = ir_counts(xml)
    assert counts["SpaceToBatch"] == 0 and counts["BatchToSpace"] == 0, counts
    assert counts["Pad"] == 0 and counts["Convolution"] == 2, counts
    dilations = [layer.find("data").get("dilations") for layer in ir_layers(xml)
                 if layer.get("type") == "Convolution"]
    assert sorted(dilations) == ["1, 2", "1, 4"], dilations
