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
