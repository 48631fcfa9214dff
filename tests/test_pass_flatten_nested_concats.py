"""flatten_nested_concats: a Concat feeding only a Concat on the same axis merges into it."""
import numpy as np

from converter.graph import Graph
from converter.passes import flatten_nested_concats
from graph_helpers import op_counts, rng_input, run_graph, snapshot


def relu(g: Graph, x, shift: float):
    return g.op("ReLU", g.op("Add", x, g.const(np.float32(shift)), auto_broadcast="numpy"))


def nested_graph(inner_axis: int = -3, side_output: bool = False) -> Graph:
    """Concat(a, Concat(b, Concat(c, d)), e) on the channel axis, as an Inception block."""
    g = Graph("nested")
    x = g.parameter("x", (1, 2, 4, 4), "f32")
    a, b, c, d, e = (relu(g, x, s) for s in (0.1, -0.2, 0.3, -0.4, 0.5))
    innermost = g.op("Concat", c, d, axis=1)
    inner = g.op("Concat", b, innermost, axis=inner_axis)
    if side_output:
        g.result(inner, "side")
    g.result(g.op("Concat", a, inner, e, axis=1), "y")
    return g


def check_same_outputs(before: Graph, after: Graph, folder, names=("y",)) -> None:
    feeds = {"x": rng_input((1, 2, 4, 4))}
    expected = run_graph(before, folder / "before", feeds)
    got = run_graph(after, folder / "after", feeds)
    for name in names:
        np.testing.assert_array_equal(got[name], expected[name])


def test_nested_concats_become_one(tmp_path):
    graph = nested_graph()
    before = snapshot(graph)
    assert flatten_nested_concats.run(graph) == 2
    graph.infer_shapes()
    assert op_counts(graph)["Concat"] == 1
    [concat] = [n for n in graph.nodes() if n.op == "Concat"]
    assert len(concat.inputs) == 5 and concat.outputs[0].shape == (1, 10, 4, 4)
    check_same_outputs(before, graph, tmp_path)


def test_a_concat_read_elsewhere_stays(tmp_path):
    graph = nested_graph(side_output=True)
    before = snapshot(graph)
    assert flatten_nested_concats.run(graph) == 1  # only the innermost joins its parent
    assert op_counts(graph)["Concat"] == 2
    check_same_outputs(before, graph, tmp_path, ("y", "side"))


def test_a_concat_on_another_axis_stays():
    g = Graph()
    x = g.parameter("x", (1, 2, 4, 4), "f32")
    inner = g.op("Concat", relu(g, x, 0.1), relu(g, x, 0.2), axis=2)   # (1, 2, 8, 4)
    g.result(g.op("Concat", inner, relu(g, x, 0.3), axis=-2), "y")     # -2 is axis 2: merges
    assert flatten_nested_concats.run(g) == 1
    g2 = Graph()
    x = g2.parameter("x", (1, 2, 4, 4), "f32")
    inner = g2.op("Concat", relu(g2, x, 0.1), relu(g2, x, 0.2), axis=3)  # (1, 2, 4, 8)
    g2.result(g2.op("Concat", inner, g2.op("Concat", x, x, axis=3), axis=1), "y")
    assert flatten_nested_concats.run(g2) == 0
