"""fuse_grouped_convolution: Split -> N Convolutions -> Concat becomes one GroupConvolution."""
import numpy as np
import pytest
from onnx import helper

from converter.graph import Graph
from converter.passes import fuse_grouped_convolution
from graph_helpers import (conv_attrs, finegrain, op_counts, rng_input, run_graph, snapshot,
                           structure)
from onnx_testing import FLOAT, convert_and_compare, ir_layer_types, make_model

RNG = np.random.default_rng(5)
SHAPE = (1, 6, 5, 5)


def split_convs(groups=3, bias=False, variadic=False, odd_attrs=False, extra_reader=False,
                shuffled=False) -> Graph:
    g = Graph("split_convs")
    x = g.parameter("x", SHAPE, "f32")
    axis = g.const(np.int64(1))
    if variadic:
        parts = g.add("VariadicSplit", [x, axis, g.const(np.full(groups, 6 // groups, np.int64))],
                      num_outputs=groups)
    else:
        parts = g.add("Split", [x, axis], {"num_splits": groups}, num_outputs=groups)
    branches = []
    for i in range(groups):
        attrs = conv_attrs((0, 0)) if odd_attrs and i == 1 else conv_attrs()
        w = RNG.standard_normal((2, 6 // groups, 3, 3)).astype(np.float32)
        y = g.op("Convolution", parts.output(i), g.const(w), **attrs)
        if bias:
            y = g.op("Add", y, g.const(RNG.standard_normal((1, 2, 1, 1)).astype(np.float32)),
                     auto_broadcast="numpy")
        branches.append(y)
    if extra_reader:
        g.result(g.op("ReLU", branches[0]), "side")
    if shuffled:
        branches = branches[::-1]
    g.result(g.op("Concat", *branches, axis=1), "y")
    return g


@pytest.mark.parametrize("bias,variadic", [(False, False), (True, False), (False, True)])
def test_split_convolutions_concat_become_one_group_convolution(tmp_path, bias, variadic):
    graph = split_convs(bias=bias, variadic=variadic)
    before = snapshot(graph)
    assert fuse_grouped_convolution.run(graph) == 1
    counts = op_counts(graph)
    assert counts["GroupConvolution"] == 1
    assert counts["Convolution"] == counts["Split"] == counts["VariadicSplit"] == 0
    assert counts["Concat"] == 0 and counts["Add"] == (1 if bias else 0)
    feeds = {"x": rng_input(SHAPE)}
    expected = run_graph(before, tmp_path / "before", feeds)["y"]
    np.testing.assert_allclose(run_graph(graph, tmp_path / "after", feeds)["y"], expected,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["odd_attrs", "extra_reader", "shuffled"])
def test_branches_that_differ_are_left_alone(case):
    graph = split_convs(**{case: True})
    assert fuse_grouped_convolution.run(graph) == 0
    assert op_counts(graph)["Convolution"] == 3


def onnx_split_conv_model():
    nodes = [helper.make_node("Split", ["x", "lengths"], ["a", "b"], axis=1),
             helper.make_node("Conv", ["a", "wa"], ["ya"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["b", "wb"], ["yb"], pads=[1, 1, 1, 1]),
             helper.make_node("Concat", ["ya", "yb"], ["y"], axis=1)]
    inits = {"lengths": np.array([3, 3], np.int64),
             "wa": RNG.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "wb": RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)}
    return make_model(nodes, {"x": (list(SHAPE), FLOAT)}, {"y": (None, FLOAT)}, 13, inits)


@pytest.mark.parametrize("flag", [None, "disable_gfusing", "disable_fusing"])
def test_converter_fuses_unless_switched_off(tmp_path, flag):
    flags = {flag: True} if flag else {}
    layers = ir_layer_types(convert_and_compare(onnx_split_conv_model(), tmp_path, **flags))
    if flag:
        assert layers.count("Convolution") == 2 and "GroupConvolution" not in layers
    else:
        assert layers.count("GroupConvolution") == 1 and "Convolution" not in layers
        assert "Concat" not in layers and "VariadicSplit" not in layers


def test_naming_any_node_of_the_pattern_keeps_the_branches(tmp_path):
    """The Split, a branch's Convolution or bias Add, or the Concat named by --finegrain_fusing:
    no GroupConvolution; a name outside the pattern lets it fuse."""
    names = [n.name for n in split_convs(bias=True).nodes()
             if n.op not in ("Parameter", "Const", "Result")]
    assert {name.split("_")[0] for name in names} == {"Split", "Convolution", "Add", "Concat"}
    for name in names:
        graph = split_convs(bias=True)
        before = snapshot(graph)
        assert fuse_grouped_convolution.run(graph, finegrain(name)) == 0, name
        assert structure(graph) == structure(before), name
    feeds = {"x": rng_input(SHAPE)}
    np.testing.assert_allclose(run_graph(graph, tmp_path / "kept", feeds)["y"],
                               run_graph(before, tmp_path / "before", feeds)["y"], rtol=1e-6)
    assert fuse_grouped_convolution.run(graph, finegrain("x", "y")) == 1
    assert op_counts(graph)["GroupConvolution"] == 1
    np.testing.assert_allclose(run_graph(graph, tmp_path / "fused", feeds)["y"],
                               run_graph(before, tmp_path / "before", feeds)["y"],
                               rtol=1e-5, atol=1e-5)
