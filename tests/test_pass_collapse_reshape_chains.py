"""collapse_reshape_chains: Reshape/Squeeze/Unsqueeze chains become one Reshape, Transpose
chains one Transpose (or none), and a Transpose moving only dims of size 1 a Reshape."""
import numpy as np
import pytest

from converter.graph import Graph
from converter.passes import collapse_reshape_chains
from graph_helpers import op_counts, rng_input, run_graph, snapshot


def i64(values):
    return np.array(values, np.int64)


def ops_between(g):
    """The op types of the graph, without its plumbing (Parameter, Const, Result)."""
    counts = op_counts(g)
    for plumbing in ("Parameter", "Const", "Result"):
        counts.pop(plumbing, None)
    return dict(counts)


def check(tmp_path, g, shape, expected_ops):
    before = snapshot(g)
    assert collapse_reshape_chains.run(g) >= 1
    assert ops_between(g) == expected_ops
    feeds = {"x": rng_input(shape)}
    np.testing.assert_array_equal(run_graph(g, tmp_path / "after", feeds)["y"],
                                  run_graph(before, tmp_path / "before", feeds)["y"])


def test_squeeze_unsqueeze_reshape_chain_is_one_reshape(tmp_path):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (1, 8, 1, 1), "f32"))
    y = g.op("Squeeze", x, g.const(i64([2, 3])))
    y = g.op("Unsqueeze", y, g.const(i64([0])))
    y = g.op("Reshape", y, g.const(i64([1, 2, 4])), special_zero=False)
    g.result(g.op("Exp", y), "y")
    check(tmp_path, g, (1, 8, 1, 1), {"ReLU": 1, "Reshape": 1, "Exp": 1})
    reshape = g.results[0].inputs[0].node.inputs[0].node
    assert reshape.inputs[0].node.op == "ReLU" and reshape.outputs[0].shape == (1, 2, 4)


def test_a_reshape_chain_back_to_the_start_vanishes(tmp_path):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (2, 3, 4), "f32"))
    y = g.op("Reshape", x, g.const(i64([6, 4])), special_zero=False)
    y = g.op("Reshape", y, g.const(i64([24])), special_zero=False)
    y = g.op("Reshape", y, g.const(i64([2, 3, 4])), special_zero=False)
    g.result(g.op("Exp", y), "y")
    check(tmp_path, g, (2, 3, 4), {"ReLU": 1, "Exp": 1})


def test_a_chain_with_a_dynamic_batch_keeps_it_as_minus_one(tmp_path):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (-1, 4, 1, 1), "f32"))
    y = g.op("Squeeze", x, g.const(i64([3])))
    y = g.op("Squeeze", y, g.const(i64([2])))
    g.result(g.op("Exp", y), "y")
    before = snapshot(g)
    assert collapse_reshape_chains.run(g) == 1
    assert ops_between(g) == {"ReLU": 1, "Reshape": 1, "Exp": 1}
    assert g.results[0].inputs[0].shape == (-1, 4)
    for batch in (1, 3):
        feeds = {"x": rng_input((batch, 4, 1, 1))}
        np.testing.assert_array_equal(run_graph(g, tmp_path / f"after{batch}", feeds)["y"],
                                      run_graph(before, tmp_path / f"before{batch}", feeds)["y"])


def test_transposes_that_cancel_vanish(tmp_path):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (1, 2, 3, 4), "f32"))
    y = g.op("Transpose", x, g.const(i64([0, 2, 3, 1])))
    y = g.op("Transpose", y, g.const(i64([0, 3, 1, 2])))
    g.result(g.op("Exp", y), "y")
    check(tmp_path, g, (1, 2, 3, 4), {"ReLU": 1, "Exp": 1})


def test_three_transposes_become_one(tmp_path):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (2, 3, 4, 5), "f32"))
    y = g.op("Transpose", x, g.const(i64([1, 0, 2, 3])))
    y = g.op("Transpose", y, g.const(i64([0, 2, 3, 1])))
    y = g.op("Transpose", y, g.const(i64([3, 2, 1, 0])))
    g.result(g.op("Exp", y), "y")
    check(tmp_path, g, (2, 3, 4, 5), {"ReLU": 1, "Transpose": 1, "Exp": 1})


def test_a_transpose_moving_only_ones_is_a_reshape(tmp_path):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (1, 6, 1, 1), "f32"))
    g.result(g.op("Exp", g.op("Transpose", x, g.const(i64([0, 2, 3, 1])))), "y")
    check(tmp_path, g, (1, 6, 1, 1), {"ReLU": 1, "Reshape": 1, "Exp": 1})
    assert g.results[0].inputs[0].shape == (1, 1, 1, 6)


def test_reshape_transpose_of_ones_reshape_is_one_reshape(tmp_path):
    """As a global pool's [N,C,1,1] -> NHWC -> flatten chain leaves it."""
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (1, 6), "f32"))
    y = g.op("Unsqueeze", x, g.const(i64([2, 3])))
    y = g.op("Transpose", y, g.const(i64([0, 2, 3, 1])))
    y = g.op("Reshape", y, g.const(i64([1, 2, 3])), special_zero=False)
    g.result(g.op("Exp", y), "y")
    check(tmp_path, g, (1, 6), {"ReLU": 1, "Reshape": 1, "Exp": 1})


@pytest.mark.parametrize("order", [[0, 2, 1], [2, 1, 0]])
def test_a_transpose_moving_data_stays(order):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (2, 3, 1), "f32"))
    g.result(g.op("Transpose", x, g.const(i64(order))), "y")
    counts = op_counts(g)
    if order == [0, 2, 1]:  # moves only the 1: a Reshape
        assert collapse_reshape_chains.run(g) == 1
        assert ops_between(g) == {"ReLU": 1, "Reshape": 1}
    else:
        assert collapse_reshape_chains.run(g) == 0
        assert op_counts(g) == counts


def test_a_reshape_after_an_op_that_is_no_reshape_stays():
    g = Graph()
    x = g.parameter("x", (2, 3, 4), "f32")
    y = g.op("Reshape", g.op("ReLU", g.op("Reshape", x, g.const(i64([6, 4])), special_zero=False)),
             g.const(i64([24])), special_zero=False)
    g.result(y, "y")
    assert collapse_reshape_chains.run(g) == 0
