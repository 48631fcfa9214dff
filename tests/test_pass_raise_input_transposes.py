"""raise_input_transposes: the layout Transpose before the first conv moves up to the input."""
import numpy as np

from converter.graph import Graph
from converter.passes import fold_pad_into_window, raise_input_transposes
from graph_helpers import op_counts, rng_input, run_graph, snapshot

NCHW = np.array([0, 3, 1, 2], np.int64)


def keras_stem(extra_reader: bool = False) -> Graph:
    """x (NHWC) -> Multiply(1/255) -> Subtract(mean[C]) -> Pad(1) -> Transpose -> Convolution,
    as a Keras Rescaling/Normalization/ZeroPadding2D stem comes out of the TF frontend."""
    rng = np.random.default_rng(5)
    g = Graph("stem")
    x = g.parameter("x", (1, 6, 6, 3), "f32")
    y = g.op("Multiply", g.const(np.float32(1 / 255)), x, auto_broadcast="numpy")
    y = g.op("Subtract", y, g.const(np.array([0.4, 0.5, 0.6], np.float32)), auto_broadcast="numpy")
    if extra_reader:
        g.result(g.op("ReLU", y), "side")
    y = g.op("Pad", y, g.const(np.array([0, 1, 1, 0], np.int64)),
             g.const(np.array([0, 1, 1, 0], np.int64)), pad_mode="constant")
    y = g.op("Transpose", y, g.const(NCHW))
    y = g.op("Convolution", y, g.const(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
             strides=[1, 1], dilations=[1, 1], pads_begin=[0, 0], pads_end=[0, 0],
             auto_pad="explicit")
    g.result(g.op("ReLU", y), "y")
    return g


def feeds():
    return {"x": rng_input((1, 6, 6, 3), low=0.0, high=255.0)}


def test_the_transpose_moves_to_the_input_and_the_pad_then_folds(tmp_path):
    graph = keras_stem()
    before = snapshot(graph)
    assert raise_input_transposes.run(graph) == 1
    graph.infer_shapes()
    order = [n.op for n in graph.nodes() if n.op not in ("Const", "Result")]
    assert order == ["Parameter", "Transpose", "Multiply", "Subtract", "Pad", "Convolution", "ReLU"]
    expected = run_graph(before, tmp_path / "before", feeds())["y"]
    np.testing.assert_allclose(run_graph(graph, tmp_path / "after", feeds())["y"], expected,
                               rtol=1e-5, atol=1e-4)
    fold_pad_into_window.run(graph, None)
    graph.infer_shapes()
    assert op_counts(graph)["Pad"] == 0
    np.testing.assert_allclose(run_graph(graph, tmp_path / "folded", feeds())["y"], expected,
                               rtol=1e-5, atol=1e-4)


def test_a_chain_read_elsewhere_stays():
    graph = keras_stem(extra_reader=True)
    assert raise_input_transposes.run(graph) == 0
    assert [n.op for n in graph.nodes() if n.op == "Transpose"] == ["Transpose"]


def test_a_chain_not_starting_at_an_input_is_left_to_sinking():
    g = Graph()
    x = g.parameter("x", (1, 3, 4, 4), "f32")
    y = g.op("Convolution", x, g.const(np.ones((2, 3, 1, 1), np.float32)), strides=[1, 1],
             dilations=[1, 1], pads_begin=[0, 0], pads_end=[0, 0], auto_pad="explicit")
    y = g.op("ReLU", g.op("Transpose", y, g.const(np.array([0, 2, 3, 1], np.int64))))
    g.result(g.op("Transpose", y, g.const(NCHW)), "y")
    assert raise_input_transposes.run(g) == 0
