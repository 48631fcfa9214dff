"""eliminate_common_subexpressions: the same op on the same inputs is computed once; equal
constants are stored once; dead branches are not part of the graph."""
import numpy as np

from converter.graph import Graph
from converter.ir.writer import write_ir
from converter.passes import eliminate_common_subexpressions as cse
from graph_helpers import conv_attrs, op_counts, rng_input, run_graph, snapshot


def i64(values):
    return np.array(values, np.int64)


def assert_same_outputs(tmp_path, before, after, feeds, names):
    expected = run_graph(before, tmp_path / "before", feeds)
    actual = run_graph(after, tmp_path / "after", feeds)
    for name in names:
        np.testing.assert_array_equal(actual[name], expected[name])


def branch(g, x, weights):
    """Convolution -> Add(bias) -> ReLU, with its own (equal) constants every time."""
    y = g.op("Convolution", x, g.const(weights.copy()), **conv_attrs())
    y = g.op("Add", y, g.const(np.full((1, 4, 1, 1), 0.5, np.float32)), auto_broadcast="numpy")
    return g.op("ReLU", y)


def test_two_equal_branches_become_one(tmp_path):
    weights = np.random.default_rng(0).standard_normal((4, 2, 3, 3)).astype(np.float32)
    g = Graph()
    x = g.parameter("x", (1, 2, 6, 6), "f32")
    g.result(g.op("Add", branch(g, x, weights), branch(g, x, weights), auto_broadcast="numpy"), "y")
    before = snapshot(g)
    # weights, bias: 2 constants; Convolution, Add, ReLU: 3 ops
    assert cse.run(g) == 5
    assert op_counts(g) == {"Parameter": 1, "Const": 2, "Convolution": 1, "Add": 2, "ReLU": 1,
                            "Result": 1}
    assert_same_outputs(tmp_path, before, g, {"x": rng_input((1, 2, 6, 6))}, ["y"])


def test_different_attributes_or_inputs_are_kept(tmp_path):
    weights = np.ones((4, 2, 3, 3), np.float32)
    g = Graph()
    x = g.parameter("x", (1, 2, 6, 6), "f32")
    w = g.const(weights)
    a = g.op("Convolution", x, w, **conv_attrs((1, 1)))
    b = g.op("Convolution", x, w, **conv_attrs((0, 0)))
    c = g.op("SoftMax", a, axis=1)
    d = g.op("SoftMax", a, axis=2)
    e = g.op("Sigmoid", x)
    f = g.op("Tanh", x)
    g.result(g.op("Concat", g.op("ReduceMean", b, g.const(i64([2, 3])), keep_dims=False),
                  g.op("ReduceMean", c, g.const(i64([2, 3])), keep_dims=False),
                  g.op("ReduceMean", d, g.const(i64([2, 3])), keep_dims=False),
                  g.op("ReduceMean", e, g.const(i64([2, 3])), keep_dims=False),
                  g.op("ReduceMean", f, g.const(i64([2, 3])), keep_dims=False), axis=1), "y")
    counts = op_counts(g)
    merged = cse.run(g)
    assert merged == 4  # the four axes constants; every op differs from the others
    counts["Const"] -= 4
    assert op_counts(g) == counts


def test_equal_bytes_of_another_type_or_shape_stay_apart():
    g = Graph()
    x = g.parameter("x", (2, 3), "f32")
    zeros_f = g.op("Add", x, g.const(np.zeros((2, 3), np.float32)), auto_broadcast="numpy")
    zeros_i = g.op("Convert", g.const(np.zeros((2, 3), np.int32)), destination_type="f32")
    zeros_flat = g.op("Reshape", g.const(np.zeros(6, np.float32)), g.const(i64([2, 3])),
                      special_zero=False)
    total = g.op("Add", g.op("Add", zeros_f, zeros_i, auto_broadcast="numpy"), zeros_flat,
                 auto_broadcast="numpy")
    g.result(total, "y")
    assert cse.run(g) == 0


def test_repeated_multi_output_ops_merge(tmp_path):
    g = Graph()
    x = g.parameter("x", (1, 4, 3), "f32")
    first = g.add("Split", [x, g.const(i64(1))], {"num_splits": 2}, num_outputs=2)
    second = g.add("Split", [x, g.const(i64(1))], {"num_splits": 2}, num_outputs=2)
    y = g.op("Subtract", first.output(0), second.output(1), auto_broadcast="numpy")
    y = g.op("Multiply", y, g.op("Add", second.output(0), first.output(1), auto_broadcast="numpy"),
             auto_broadcast="numpy")
    g.result(y, "y")
    before = snapshot(g)
    assert cse.run(g) == 2  # the axis constant, then the Split
    assert op_counts(g)["Split"] == 1
    assert_same_outputs(tmp_path, before, g, {"x": rng_input((1, 4, 3))}, ["y"])


def test_two_model_outputs_computed_alike_keep_their_own_tensors(tmp_path):
    g = Graph()
    x = g.parameter("x", (2, 3), "f32")
    g.result(g.op("ReLU", x), "a")
    g.result(g.op("ReLU", x), "b")
    assert cse.run(g) == 0
    outputs = run_graph(g, tmp_path, {"x": rng_input((2, 3))})
    np.testing.assert_array_equal(outputs["a"], outputs["b"])


def test_a_dead_branch_is_neither_in_the_graph_nor_in_the_ir(tmp_path):
    g = Graph()
    x = g.parameter("x", (2, 3), "f32")
    live = g.op("ReLU", x, name="live")
    dead = g.op("Exp", g.op("Sigmoid", x, name="dead_sigmoid"), name="dead_exp")
    g.result(live, "y")
    assert dead.node not in g.nodes()
    assert op_counts(g) == {"Parameter": 1, "ReLU": 1, "Result": 1}
    xml = write_ir(g, tmp_path / "m.xml")[0]
    text = xml.read_text()
    assert "dead_" not in text and 'name="live"' in text


def test_large_constants_merge_by_their_bytes_not_by_a_sample():
    """Weights of one shape are told apart by sampled bytes first: two equal large constants
    still merge, and two that differ only between the sampled bytes do not."""
    values = np.arange(4096, dtype=np.float32)
    twin = values.copy()
    near = values.copy()
    near[1001] += 1  # away from the start, the end and the sampling stride
    g = Graph()
    x = g.parameter("x", (4096,), "f32")
    outputs = [g.op("Add", x, g.const(v), auto_broadcast="numpy") for v in (values, twin, near)]
    for index, output in enumerate(outputs):
        g.result(output, f"y{index}")
    assert cse._sample(values) == cse._sample(near)  # the case this test is about
    cse.run(g)
    assert op_counts(g)["Const"] == 2
    adds = [n for n in g.nodes() if n.op == "Add"]
    assert len({id(a.inputs[1].node) for a in adds}) == 2
