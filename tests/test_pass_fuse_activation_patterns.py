"""fuse_activation_patterns: spelled-out activations become the one op ovc emits, with the
same numbers in OpenVINO; what TF and ONNX exports really write fuses end to end."""
import math

import numpy as np
import pytest
from onnx import helper

from converter.graph import Graph
from converter.passes import fuse_activation_patterns
from graph_helpers import finegrain, op_counts, rng_input, run_graph, snapshot, structure
from onnx_testing import FLOAT, convert_and_compare, ir_layer_types, make_model
from tf_support import check_graph

SHAPE = (1, 3, 4, 5)


def mul(g, a, b):
    return g.op("Multiply", a, b, auto_broadcast="numpy")


def add(g, a, b):
    return g.op("Add", a, b, auto_broadcast="numpy")


def div(g, a, b):
    return g.op("Divide", a, b, auto_broadcast="numpy")


def c(g, value):
    return g.const(np.float32(value))


def relu6(g, y, form):
    if form == "clamp":
        return g.op("Clamp", y, min=0.0, max=6.0)
    if form == "relu_min":
        return g.op("Minimum", g.op("ReLU", y), c(g, 6), auto_broadcast="numpy")
    return g.op("Minimum", g.op("Maximum", y, c(g, 0), auto_broadcast="numpy"), c(g, 6),
                auto_broadcast="numpy")


def gelu_onnx(g, x):  # torch.onnx: Div, Erf, Add, Mul(x, .), Mul(., 0.5)
    erf = g.op("Erf", div(g, x, c(g, math.sqrt(2))))
    return mul(g, mul(g, x, add(g, erf, c(g, 1))), c(g, 0.5))


def gelu_half_first(g, x):  # 0.5 * x * (1 + erf(x * 0.7071))
    erf = g.op("Erf", mul(g, x, c(g, 1 / math.sqrt(2))))
    return mul(g, mul(g, c(g, 0.5), x), add(g, c(g, 1), erf))


def gelu_erfc(g, x):  # TF 2.x: 0.5 * x * erfc(-x / sqrt2), erfc(z) as 1 - erf(z)
    erf = g.op("Erf", mul(g, g.op("Negative", x), c(g, 1 / math.sqrt(2))))
    return mul(g, mul(g, c(g, 0.5), x), g.op("Subtract", c(g, 1), erf, auto_broadcast="numpy"))


def gelu_tanh(g, x):  # TF's approximate=True
    cubic = mul(g, c(g, 0.044715), g.op("Power", x, c(g, 3), auto_broadcast="numpy"))
    inner = mul(g, c(g, math.sqrt(2 / math.pi)), add(g, x, cubic))
    return mul(g, mul(g, c(g, 0.5), x), add(g, c(g, 1), g.op("Tanh", inner)))


def gelu_tanh_cubed_by_products(g, x):
    cubic = mul(g, mul(g, x, mul(g, x, x)), c(g, 0.044715))
    inner = mul(g, add(g, x, cubic), c(g, math.sqrt(2 / math.pi)))
    return mul(g, mul(g, x, add(g, g.op("Tanh", inner), c(g, 1))), c(g, 0.5))


def hswish_keras(g, x):  # MobileNetV3: x * (relu6(x + 3) / 6)
    return mul(g, x, div(g, relu6(g, add(g, x, c(g, 3)), "clamp"), c(g, 6)))


def hswish_min_max(g, x):  # (x * min(max(x + 3, 0), 6)) * (1/6)
    return mul(g, mul(g, x, relu6(g, add(g, c(g, 3), x), "min_max")), c(g, 1 / 6))


def hsigmoid_relu(g, x):
    return mul(g, relu6(g, add(g, x, c(g, 3)), "relu_min"), c(g, 1 / 6))


def swish(g, x):
    return mul(g, x, g.op("Sigmoid", x))


def swish_beta(g, x):  # Keras swish writes beta * x even for beta 1; here beta 1.5
    return mul(g, g.op("Sigmoid", mul(g, c(g, 1.5), x)), x)


def softplus(g, x):
    return g.op("Log", add(g, g.op("Exp", x), c(g, 1)))


def mish(g, x):
    return mul(g, x, g.op("Tanh", g.op("SoftPlus", x)))


def mish_spelled_out(g, x):
    return mul(g, x, g.op("Tanh", softplus(g, x)))


CASES = {
    "gelu_onnx": (gelu_onnx, "Gelu", {"approximation_mode": "ERF"}),
    "gelu_half_first": (gelu_half_first, "Gelu", {"approximation_mode": "ERF"}),
    "gelu_erfc": (gelu_erfc, "Gelu", {"approximation_mode": "ERF"}),
    "gelu_tanh": (gelu_tanh, "Gelu", {"approximation_mode": "TANH"}),
    "gelu_tanh_products": (gelu_tanh_cubed_by_products, "Gelu", {"approximation_mode": "TANH"}),
    "hswish_keras": (hswish_keras, "HSwish", {}),
    "hswish_min_max": (hswish_min_max, "HSwish", {}),
    "hsigmoid": (hsigmoid_relu, "HSigmoid", {}),
    "swish": (swish, "Swish", {}),
    "swish_beta": (swish_beta, "Swish", {}),
    "softplus": (softplus, "SoftPlus", {}),
    "mish": (mish, "Mish", {}),
    "mish_spelled_out": (mish_spelled_out, "Mish", {}),
}


def activation_graph(build) -> Graph:
    g = Graph("activation")
    x = g.parameter("x", SHAPE, "f32")
    g.result(build(g, x), "y")
    return g


@pytest.mark.parametrize("case", sorted(CASES))
def test_pattern_fuses_into_one_op_with_the_same_numbers(tmp_path, case):
    build, op, attrs = CASES[case]
    graph = activation_graph(build)
    before = snapshot(graph)
    assert fuse_activation_patterns.run(graph) >= 1
    counts = op_counts(graph)
    constants = 1 if case == "swish_beta" else 0  # Swish's beta input
    expected_counts = {"Parameter": 1, op: 1, "Result": 1}
    if constants:
        expected_counts["Const"] = constants
    assert dict(counts) == expected_counts
    [fused] = [n for n in graph.nodes() if n.op == op]
    assert {k: fused.attrs[k] for k in attrs} == attrs
    feeds = {"x": rng_input(SHAPE, low=-5, high=5)}
    expected = run_graph(before, tmp_path / "before", feeds)["y"]
    np.testing.assert_allclose(run_graph(graph, tmp_path / "after", feeds)["y"], expected,
                               rtol=1e-4, atol=1e-5)


def test_an_intermediate_read_elsewhere_blocks_the_fusion(tmp_path):
    g = Graph("shared")
    x = g.parameter("x", SHAPE, "f32")
    sigmoid = g.op("Sigmoid", x)
    g.result(mul(g, x, sigmoid), "y")
    g.result(sigmoid, "gate")
    assert fuse_activation_patterns.run(g) == 0
    assert op_counts(g)["Multiply"] == 1


@pytest.mark.parametrize("scale", [0.4, 1 / 5])
def test_wrong_constants_are_not_mistaken_for_a_pattern(scale):
    g = Graph("near_miss")
    x = g.parameter("x", SHAPE, "f32")
    erf = g.op("Erf", div(g, x, c(g, math.sqrt(2))))
    g.result(mul(g, mul(g, x, add(g, erf, c(g, 1))), c(g, scale)), "y")
    g2 = Graph("near_miss_hsigmoid")
    x2 = g2.parameter("x", SHAPE, "f32")
    g2.result(mul(g2, relu6(g2, add(g2, x2, c(g2, 3)), "clamp"), c(g2, scale)), "y")
    assert fuse_activation_patterns.run(g) == 0
    assert fuse_activation_patterns.run(g2) == 0


# -- --finegrain_fusing --------------------------------------------------------------------------
def pattern_nodes(graph: Graph) -> list[str]:
    """The names of every node of the pattern (all but x, its constants and the Result)."""
    return [n.name for n in graph.nodes() if n.op not in ("Parameter", "Const", "Result")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_naming_any_node_of_a_pattern_keeps_the_whole_pattern(tmp_path, case):
    """Each node named alone (the Sigmoid of a Swish, the Erf of a Gelu, the last Multiply of an
    HSwish whose HSigmoid part would fuse first, ...) leaves every node where it was."""
    names = pattern_nodes(activation_graph(CASES[case][0]))
    assert names
    for name in names:
        graph = activation_graph(CASES[case][0])
        before = snapshot(graph)
        assert fuse_activation_patterns.run(graph, finegrain(name)) == 0, name
        assert structure(graph) == structure(before), name
    feeds = {"x": rng_input(SHAPE, low=-5, high=5)}
    np.testing.assert_allclose(run_graph(graph, tmp_path / "kept", feeds)["y"],
                               run_graph(before, tmp_path / "before", feeds)["y"], rtol=1e-6)


@pytest.mark.parametrize("case", ["gelu_onnx", "hswish_keras", "mish_spelled_out", "swish"])
def test_an_unrelated_name_leaves_the_fusion_alone(tmp_path, case):
    build, op, _ = CASES[case]
    graph = activation_graph(build)
    before = snapshot(graph)
    assert fuse_activation_patterns.run(graph, finegrain("x", "y", "elsewhere")) >= 1
    assert dict(op_counts(graph)) == {"Parameter": 1, op: 1, "Result": 1}
    feeds = {"x": rng_input(SHAPE, low=-5, high=5)}
    np.testing.assert_allclose(run_graph(graph, tmp_path / "after", feeds)["y"],
                               run_graph(before, tmp_path / "before", feeds)["y"],
                               rtol=1e-4, atol=1e-5)


def test_a_named_pattern_leaves_the_others_fused():
    g = Graph("two")
    x = g.parameter("x", SHAPE, "f32")
    g.result(swish(g, x), "kept")
    g.result(mish(g, x), "fused")
    sigmoid = next(n.name for n in g.nodes() if n.op == "Sigmoid")
    assert fuse_activation_patterns.run(g, finegrain(sigmoid)) == 1
    assert op_counts(g)["Mish"] == 1 and op_counts(g)["Swish"] == 0
    assert op_counts(g)["Sigmoid"] == 1


# -- end to end: what exporters really write --------------------------------------------------
def onnx_gelu_model():
    """The exact Gelu as torch.onnx writes it below opset 20."""
    nodes = [helper.make_node("Div", ["x", "sqrt2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["a"]), helper.make_node("Mul", ["x", "a"], ["m"]),
             helper.make_node("Mul", ["m", "half"], ["y"])]
    inits = {"sqrt2": np.array(1.4142135381698608, np.float32), "one": np.array(1, np.float32),
             "half": np.array(0.5, np.float32)}
    return make_model(nodes, {"x": (list(SHAPE), FLOAT)}, {"y": (None, FLOAT)}, 17, inits)


def test_onnx_gelu_decomposition_converts_to_one_gelu(tmp_path):
    xml = convert_and_compare(onnx_gelu_model(), tmp_path, rtol=1e-4, atol=1e-5)
    layers = ir_layer_types(xml)
    assert layers.count("Gelu") == 1 and "Erf" not in layers and "Multiply" not in layers


def test_disable_fusing_keeps_the_decomposition(tmp_path):
    xml = convert_and_compare(onnx_gelu_model(), tmp_path, rtol=1e-4, atol=1e-5,
                              disable_fusing=True)
    layers = ir_layer_types(xml)
    assert "Gelu" not in layers and "Erf" in layers


TF_CASES = {
    # Keras MobileNetV3's hard_swish / hard_sigmoid, as tf.keras.activations write them.
    "hard_swish": (lambda tf, x: x * (tf.nn.relu6(x + 3.0) / 6.0), "HSwish"),
    "hard_sigmoid": (lambda tf, x: tf.nn.relu6(x + 3.0) / 6.0, "HSigmoid"),
    # EfficientNet's swish: tf.nn.silu freezes to x * Sigmoid(beta * x) with beta 1.
    "silu": (lambda tf, x: tf.nn.silu(x), "Swish"),
    "gelu_tanh": (lambda tf, x: tf.nn.gelu(x, approximate=True), "Gelu"),
}


@pytest.mark.parametrize("case", sorted(TF_CASES))
def test_tensorflow_activations_convert_to_one_op(tf, tmp_path, case):
    body, op = TF_CASES[case]

    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, (1, 4, 4, 3), name="x")
        return tf.identity(body(tf, x), name="y")

    feeds = {"x": rng_input((1, 4, 4, 3), low=-5, high=5)}
    xml = check_graph(tf, tmp_path, build, feeds, atol=1e-5)
    layers = ir_layer_types(xml)
    assert layers.count(op) == 1
    assert not {"Multiply", "Divide", "Clamp", "Sigmoid", "Tanh"} & set(layers), layers
