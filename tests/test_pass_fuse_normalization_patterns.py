"""fuse_normalization_patterns: decomposed layer/instance norms become MVN, L2 normalizations
NormalizeL2, with the same numbers in OpenVINO; Keras LayerNormalization and l2_normalize from
TensorFlow convert to them end to end."""
import numpy as np
import pytest

from converter.graph import Graph
from converter.passes import fuse_normalization_patterns
from graph_helpers import finegrain, op_counts, rng_input, run_graph, snapshot, structure
from onnx_testing import ir_layer_types
from tf_support import check_graph

SHAPE = (2, 3, 4, 5)


def b(g, op, x, y):
    return g.op(op, x, y, auto_broadcast="numpy")


def c(g, value):
    return g.const(np.float32(value))


def axes(g, values):
    return g.const(np.array(values, np.int64))


def mean(g, x, ax):
    return g.op("ReduceMean", x, axes(g, ax), keep_dims=True)


def layer_norm_onnx(g, x, ax=(-1,)):
    """As our ONNX frontend decomposes LayerNormalization (before its scale)."""
    centered = b(g, "Subtract", x, mean(g, x, ax))
    variance = mean(g, b(g, "Multiply", centered, centered), ax)
    std = g.op("Sqrt", b(g, "Add", variance, c(g, 1e-5)))
    return b(g, "Multiply", centered, b(g, "Divide", c(g, 1), std))


def instance_norm_divide(g, x):
    m = mean(g, x, (2, 3))
    centered = b(g, "Subtract", x, m)
    variance = mean(g, b(g, "SquaredDifference", x, m), (2, 3))
    return b(g, "Divide", centered, g.op("Sqrt", b(g, "Add", c(g, 1e-3), variance)))


def power_form(g, x):
    centered = b(g, "Subtract", x, mean(g, x, (1, 2, 3)))
    variance = mean(g, b(g, "Power", centered, c(g, 2)), (1, 2, 3))
    return b(g, "Multiply", b(g, "Power", b(g, "Add", variance, c(g, 1e-6)), c(g, -0.5)), centered)


def outside_sqrt(g, x):
    centered = b(g, "Subtract", x, mean(g, x, (-1,)))
    std = g.op("Sqrt", mean(g, b(g, "Multiply", centered, centered), (-1,)))
    return b(g, "Divide", centered, b(g, "Add", std, c(g, 1e-4)))


def keras_layer_norm(g, x, gamma=True, beta=True):
    """As TF's Keras LayerNormalization writes it: x * k + (beta - mean * k)."""
    m = mean(g, x, (-1,))
    variance = mean(g, b(g, "SquaredDifference", x, m), (-1,))
    k = b(g, "Divide", c(g, 1), g.op("Sqrt", b(g, "Add", variance, c(g, 1e-3))))
    if gamma:
        k = b(g, "Multiply", k, g.const(np.linspace(0.5, 2, 5, dtype=np.float32)))
    shift = b(g, "Multiply", g.op("Negative", m), k)
    if beta:
        shift = b(g, "Add", shift, g.const(np.linspace(-1, 1, 5, dtype=np.float32)))
    return b(g, "Add", b(g, "Multiply", x, k), shift)


def l2_tf(g, x):  # tf.math.l2_normalize: x * rsqrt(max(sum(x^2), eps))
    total = g.op("ReduceSum", b(g, "Multiply", x, x), axes(g, [-1]), keep_dims=True)
    return b(g, "Multiply", x, b(g, "Divide", c(g, 1), g.op("Sqrt", b(g, "Maximum", total, c(g, 1e-12)))))


def l2_add(g, x):
    total = g.op("ReduceSum", b(g, "Power", x, c(g, 2)), axes(g, [1]), keep_dims=True)
    return b(g, "Divide", x, g.op("Sqrt", b(g, "Add", total, c(g, 1e-6))))


CASES = {
    "layer_norm_onnx": (layer_norm_onnx, {"MVN": 1}, "inside_sqrt"),
    "instance_norm_divide": (instance_norm_divide, {"MVN": 1}, "inside_sqrt"),
    "power_form": (power_form, {"MVN": 1}, "inside_sqrt"),
    "outside_sqrt": (outside_sqrt, {"MVN": 1}, "outside_sqrt"),
    "keras_layer_norm": (keras_layer_norm, {"MVN": 1, "Multiply": 1, "Add": 1}, "inside_sqrt"),
    "keras_layer_norm_plain": (lambda g, x: keras_layer_norm(g, x, False, False), {"MVN": 1},
                               "inside_sqrt"),
    "l2_tf": (l2_tf, {"NormalizeL2": 1}, "max"),
    "l2_add": (l2_add, {"NormalizeL2": 1}, "add"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_pattern_fuses_with_the_same_numbers(tmp_path, case):
    build, expected_ops, mode = CASES[case]
    g = Graph("norm")
    x = g.parameter("x", SHAPE, "f32")
    g.result(build(g, x), "y")
    before = snapshot(g)
    assert fuse_normalization_patterns.run(g) == 1
    counts = op_counts(g)
    compute = {op: n for op, n in counts.items() if op not in ("Parameter", "Result", "Const")}
    assert compute == expected_ops
    [fused] = [n for n in g.nodes() if n.op in ("MVN", "NormalizeL2")]
    assert fused.attrs["eps_mode"] == mode
    feeds = {"x": rng_input(SHAPE, low=-3, high=3)}
    expected = run_graph(before, tmp_path / "before", feeds)["y"]
    np.testing.assert_allclose(run_graph(g, tmp_path / "after", feeds)["y"], expected,
                               rtol=1e-4, atol=1e-5)


def norm_graph(build) -> Graph:
    g = Graph("norm")
    g.result(build(g, g.parameter("x", SHAPE, "f32")), "y")
    return g


@pytest.mark.parametrize("case", sorted(CASES))
def test_naming_any_node_of_a_pattern_keeps_the_whole_pattern(tmp_path, case):
    """--finegrain_fusing naming one node (a ReduceMean, the Sqrt, the final Divide, ...) leaves
    every node of the pattern as it was; a name outside it lets the pattern fuse."""
    build, expected_ops, _ = CASES[case]
    names = [n.name for n in norm_graph(build).nodes()
             if n.op not in ("Parameter", "Const", "Result")]
    for name in names:
        g = norm_graph(build)
        before = snapshot(g)
        assert fuse_normalization_patterns.run(g, finegrain(name)) == 0, name
        assert structure(g) == structure(before), name
    feeds = {"x": rng_input(SHAPE, low=-3, high=3)}
    np.testing.assert_allclose(run_graph(g, tmp_path / "kept", feeds)["y"],
                               run_graph(before, tmp_path / "before", feeds)["y"], rtol=1e-6)
    fused = norm_graph(build)
    assert fuse_normalization_patterns.run(fused, finegrain("x", "y", "other")) == 1
    assert {op: n for op, n in op_counts(fused).items()
            if op not in ("Parameter", "Result", "Const")} == expected_ops
    np.testing.assert_allclose(run_graph(fused, tmp_path / "fused", feeds)["y"],
                               run_graph(before, tmp_path / "before", feeds)["y"],
                               rtol=1e-4, atol=1e-5)


def test_statistics_read_elsewhere_block_the_fusion():
    g = Graph("shared")
    x = g.parameter("x", SHAPE, "f32")
    m = mean(g, x, (-1,))
    centered = b(g, "Subtract", x, m)
    variance = mean(g, b(g, "Multiply", centered, centered), (-1,))
    g.result(b(g, "Divide", centered, g.op("Sqrt", b(g, "Add", variance, c(g, 1e-5)))), "y")
    g.result(variance, "variance")
    assert fuse_normalization_patterns.run(g) == 0


def test_different_axes_for_mean_and_variance_are_not_mvn():
    g = Graph("axes")
    x = g.parameter("x", SHAPE, "f32")
    centered = b(g, "Subtract", x, mean(g, x, (-1,)))
    variance = mean(g, b(g, "Multiply", centered, centered), (2, 3))
    g.result(b(g, "Divide", centered, g.op("Sqrt", b(g, "Add", variance, c(g, 1e-5)))), "y")
    assert fuse_normalization_patterns.run(g) == 0


def test_keras_layer_normalization_converts_to_mvn(tf, tmp_path):
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from tf_support import compare

    layer = tf.keras.layers.LayerNormalization(epsilon=1e-3)
    layer.build((1, 4, 4, 8))
    layer.gamma.assign(np.linspace(0.5, 2, 8).astype(np.float32))
    layer.beta.assign(np.linspace(-1, 1, 8).astype(np.float32))
    function = tf.function(lambda x: layer(x)).get_concrete_function(
        tf.TensorSpec((1, 4, 4, 8), tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(function)
    pb = tmp_path / "ln.pb"
    pb.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    feeds = {"x": rng_input((1, 4, 4, 8), low=-3, high=3)}
    xml = compare(tmp_path, pb, feeds, [frozen.outputs[0].name], atol=1e-4)
    layers = ir_layer_types(xml)
    assert layers.count("MVN") == 1 and "ReduceMean" not in layers, layers


@pytest.mark.parametrize("disable_fusing", [False, True])
def test_tf_l2_normalize_converts_to_normalize_l2(tf, tmp_path, disable_fusing):
    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, (2, 6), name="x")
        return tf.identity(tf.math.l2_normalize(x, axis=-1), name="y")

    xml = check_graph(tf, tmp_path, build, {"x": rng_input((2, 6))}, disable_fusing=disable_fusing)
    layers = ir_layer_types(xml)
    if disable_fusing:
        assert "NormalizeL2" not in layers and "ReduceSum" in layers
    else:
        assert layers.count("NormalizeL2") == 1 and "ReduceSum" not in layers, layers
