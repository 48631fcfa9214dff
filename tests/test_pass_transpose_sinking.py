"""transpose_sinking: layout Transposes around NCHW ops cancel through element-wise ops."""
import numpy as np

from converter.graph import Graph
from converter.passes import transpose_sinking
from graph_helpers import conv_attrs, op_counts, rng_input, run_graph, snapshot

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def perm(g, order):
    return g.const(np.array(order, np.int64))


def nhwc_block(g, x, seed):
    """Transpose -> Conv -> Transpose back, as a TF frontend emits for an NHWC Conv2D."""
    w = g.const(np.random.default_rng(seed).standard_normal((4, 4, 3, 3)).astype(np.float32))
    y = g.op("Convolution", g.op("Transpose", x, perm(g, TO_NCHW)), w, **conv_attrs())
    return g.op("Transpose", y, perm(g, TO_NHWC))


def test_pairs_cancel_through_bias_relu_residual_concat_and_mean(tmp_path):
    g = Graph()
    x = g.parameter("x", (1, 6, 6, 4), "f32")
    a = nhwc_block(g, x, 1)
    a = g.op("ReLU", g.op("Add", a, g.const(np.arange(4, dtype=np.float32)), auto_broadcast="numpy"))
    b = nhwc_block(g, a, 2)
    s = g.op("Add", a, b, auto_broadcast="numpy")                     # residual: T(x) + T(y)
    c = g.op("Concat", s, nhwc_block(g, s, 3), axis=3)                # channels last
    m = g.op("ReduceMean", c, g.const(np.array([1, 2], np.int64)), keep_dims=False)
    g.result(m, "y")
    before = snapshot(g)
    assert transpose_sinking.run(g) > 0
    assert op_counts(g)["Transpose"] == 1  # only the input's NHWC -> NCHW remains
    feeds = {"x": rng_input((1, 6, 6, 4))}
    np.testing.assert_allclose(run_graph(g, tmp_path / "a", feeds)["y"],
                               run_graph(before, tmp_path / "b", feeds)["y"], rtol=1e-5, atol=1e-5)


def test_a_transpose_before_an_output_stays_and_keeps_the_name(tmp_path):
    g = Graph()
    x = g.parameter("x", (1, 5, 5, 4), "f32")
    y = g.op("Sigmoid", nhwc_block(g, x, 4))
    g.result(y, "y")
    before = snapshot(g)
    transpose_sinking.run(g)
    last = g.results[0].inputs[0]
    assert last.node.op == "Transpose" and "y" in last.info.names
    feeds = {"x": rng_input((1, 5, 5, 4))}
    np.testing.assert_allclose(run_graph(g, tmp_path / "a", feeds)["y"],
                               run_graph(before, tmp_path / "b", feeds)["y"], rtol=1e-6, atol=1e-6)


def test_reduce_keeping_dims_and_unknown_consumers():
    g = Graph()
    x = g.parameter("x", (1, 3, 4, 5), "f32")
    t = g.op("Transpose", x, perm(g, TO_NHWC))
    m = g.op("ReduceMax", t, g.const(np.array([3], np.int64)), keep_dims=True)
    r = g.op("Reshape", t, g.const(np.array([1, -1], np.int64)), special_zero=False)  # does not commute
    g.result(m, "m")
    g.result(r, "r")
    transpose_sinking.run(g)
    assert g.results[1].inputs[0].node.inputs[0].node.op == "Transpose"
    mean_input = g.results[0].inputs[0].node
    assert mean_input.op == "Transpose"
    assert mean_input.inputs[0].node.op == "ReduceMax"
    assert mean_input.inputs[0].node.inputs[1].value.tolist() == [1]


def test_pads_follow_the_transpose(tmp_path):
    g = Graph()
    x = g.parameter("x", (1, 5, 5, 4), "f32")
    y = nhwc_block(g, x, 5)
    y = g.op("Pad", y, g.const(np.array([0, 1, 0, 0], np.int64)), g.const(np.array([0, 0, 2, 0], np.int64)),
             g.const(np.float32(0.5)), pad_mode="constant")
    g.result(nhwc_block(g, y, 6), "y")
    before = snapshot(g)
    transpose_sinking.run(g)
    assert op_counts(g)["Transpose"] == 2  # the input's and the output's
    feeds = {"x": rng_input((1, 5, 5, 4))}
    np.testing.assert_allclose(run_graph(g, tmp_path / "a", feeds)["y"],
                               run_graph(before, tmp_path / "b", feeds)["y"], rtol=1e-5, atol=1e-5)
