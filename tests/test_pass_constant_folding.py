"""constant_folding: ops computable now become Const nodes, names and values preserved."""
import numpy as np

from converter.graph import Graph
from converter.passes import constant_folding
from graph_helpers import conv_attrs, op_counts, rng_input, run_graph, snapshot


def test_weight_transpose_and_arithmetic_fold(tmp_path):
    rng = np.random.default_rng(0)
    g = Graph()
    x = g.parameter("x", (1, 3, 5, 5), "f32")
    hwio = g.const(rng.standard_normal((3, 3, 3, 4)).astype(np.float32))
    oihw = g.op("Transpose", hwio, g.const(np.array([3, 2, 0, 1], np.int64)))
    var = g.const(rng.uniform(0.5, 1.5, 4).astype(np.float32))
    scale = g.op("Divide", g.const(np.ones(4, np.float32)),
                 g.op("Sqrt", g.op("Add", var, g.const(np.float32(1e-3)), auto_broadcast="numpy")),
                 auto_broadcast="numpy")
    scale = g.op("Reshape", scale, g.const(np.array([1, 4, 1, 1], np.int64)), special_zero=False)
    y = g.op("Multiply", g.op("Convolution", x, oihw, **conv_attrs()), scale, auto_broadcast="numpy")
    g.result(y, "y")
    before = snapshot(g)
    assert constant_folding.run(g) == 5  # Transpose, Add, Sqrt, Divide, Reshape
    assert set(op_counts(g)) == {"Parameter", "Const", "Convolution", "Multiply", "Result"}
    feeds = {"x": rng_input((1, 3, 5, 5))}
    np.testing.assert_allclose(run_graph(g, tmp_path / "a", feeds)["y"],
                               run_graph(before, tmp_path / "b", feeds)["y"], rtol=1e-5, atol=1e-6)


def test_shape_of_a_static_tensor_folds_and_keeps_integer_type():
    g = Graph()
    x = g.parameter("x", (2, 3, 4), "f32")
    shape = g.op("ShapeOf", x, output_type="i64")
    flat = g.op("Reshape", x, g.op("Gather", shape, g.const(np.array([0], np.int64)),
                                   g.const(np.array(0, np.int64)), batch_dims=0), special_zero=False)
    g.result(flat, "y")
    constant_folding.run(g)
    target = g.results[0].inputs[0].node.inputs[1]
    assert target.node.op == "Const" and target.value.dtype == np.int64
    assert target.value.tolist() == [2]


def test_a_folded_model_output_keeps_its_name():
    g = Graph()
    g.parameter("x", (1,), "f32")
    y = g.op("Add", g.const(np.float32(1)), g.const(np.float32(2)), auto_broadcast="numpy")
    g.result(y, "y")
    constant_folding.run(g)
    out = g.results[0].inputs[0]
    assert out.node.op == "Const" and "y" in out.info.names and float(out.value) == 3.0


def test_dynamic_shapes_are_not_folded():
    g = Graph()
    x = g.parameter("x", (-1, 3), "f32")
    g.result(g.op("ShapeOf", x, output_type="i64"), "s")
    assert constant_folding.run(g) == 0


def test_a_whole_constant_subgraph_folds(tmp_path):
    g = Graph()
    x = g.parameter("x", (2, 3), "f32")
    c = g.const(np.arange(6, dtype=np.float32).reshape(2, 3))
    for op in ("Exp", "Sqrt", "Negative"):
        c = g.op(op, c)
    c = g.op("Concat", c, g.op("Multiply", c, g.const(np.float32(2)), auto_broadcast="numpy"), axis=0)
    c = g.op("ReduceSum", c, g.const(np.array([0], np.int64)), keep_dims=False)
    g.result(g.op("Add", x, c, auto_broadcast="numpy"), "y")
    before = snapshot(g)
    assert constant_folding.run(g) == 6  # Exp, Sqrt, Negative, Multiply, Concat, ReduceSum
    assert op_counts(g) == {"Parameter": 1, "Const": 1, "Add": 1, "Result": 1}
    feeds = {"x": rng_input((2, 3))}
    np.testing.assert_allclose(run_graph(g, tmp_path / "a", feeds)["y"],
                               run_graph(before, tmp_path / "b", feeds)["y"], rtol=1e-6)


def test_a_result_over_the_size_cap_stays_an_op():
    """A Broadcast to 100 MB (over the 64 MiB cap) is not materialised into the .bin."""
    g = Graph()
    g.parameter("x", (1,), "f32")
    huge = g.op("Broadcast", g.const(np.float32(1)), g.const(np.array([5000, 5000], np.int64)),
                mode="numpy")
    g.result(g.op("ReduceMax", huge, g.const(np.array([0, 1], np.int64)), keep_dims=False), "m")
    small = g.op("Broadcast", g.const(np.float32(1)), g.const(np.array([50, 50], np.int64)),
                 mode="numpy")
    g.result(g.op("ReduceMax", small, g.const(np.array([0, 1], np.int64)), keep_dims=False), "s")
    assert constant_folding.run(g) == 2  # the small Broadcast and its ReduceMax
    assert [r.inputs[0].node.op for r in g.results] == ["ReduceMax", "Const"]
    assert g.results[0].inputs[0].node.inputs[0].node.op == "Broadcast"


def test_static_dims_picked_from_a_dynamic_shape_fold(tmp_path):
    """A flatten written as Reshape(x, [-1] + ShapeOf(x)[1:] products) with a dynamic batch:
    the dims after the batch are known, so the target folds to a constant."""
    g = Graph()
    x = g.parameter("x", (-1, 3, 2, 4), "f32")
    shape = g.op("ShapeOf", x, output_type="i64")
    tail = g.op("Slice", shape, g.const(np.array([1], np.int64)), g.const(np.array([4], np.int64)),
                g.const(np.array([1], np.int64)))
    tail_size = g.op("ReduceProd", tail, g.const(np.array([0], np.int64)), keep_dims=True)
    target = g.op("Concat", g.const(np.array([-1], np.int64)), tail_size, axis=0)
    batch = g.op("Gather", shape, g.const(np.array([0], np.int64)), g.const(np.array(0, np.int64)),
                 batch_dims=0)  # the dynamic batch: never folded
    g.result(g.op("Reshape", x, target, special_zero=False), "y")
    g.result(batch, "b")
    before = snapshot(g)
    assert constant_folding.run(g) == 3  # Slice, ReduceProd, Concat
    reshape = g.results[0].inputs[0].node
    assert reshape.inputs[1].node.op == "Const" and reshape.inputs[1].value.tolist() == [-1, 24]
    assert g.results[1].inputs[0].node.op == "Gather"
    for n in (1, 3):
        feeds = {"x": rng_input((n, 3, 2, 4))}
        after, want = run_graph(g, tmp_path / f"a{n}", feeds), run_graph(before, tmp_path / f"b{n}", feeds)
        np.testing.assert_array_equal(after["y"], want["y"])
        assert after["b"].tolist() == [n]
