"""fold_pad_into_window: a Pad before a Convolution or a pool becomes the window's own pads,
only where the result is the same."""
import numpy as np
import pytest

from converter.graph import Graph
from converter.passes import fold_pad_into_window
from graph_helpers import (conv_attrs, finegrain, op_counts, rng_input, run_graph, snapshot,
                           structure)

SHAPE = (1, 4, 7, 6)


def i64(values):
    return np.array(values, np.int64)


def pad(g, x, begin=(0, 0, 1, 2), end=(0, 0, 2, 1), value=0.0):
    return g.op("Pad", x, g.const(i64(begin)), g.const(i64(end)), g.const(np.float32(value)),
                pad_mode="constant")


def pool_attrs(pads=(0, 0), **extra):
    attrs = {"strides": [2, 2], "kernel": [3, 3], "pads_begin": list(pads), "pads_end": list(pads),
             "rounding_type": "floor", "auto_pad": "explicit"}
    attrs.update(extra)
    return attrs


def max_pool(g, x, **extra):
    attrs = pool_attrs(**extra)
    attrs.update(dilations=[1, 1], index_element_type="i64", axis=0)
    return g.add("MaxPool", [x], attrs, num_outputs=2).output(0)


def avg_pool(g, x, exclude_pad=True, **extra):
    return g.op("AvgPool", x, **pool_attrs(**extra), **{"exclude-pad": exclude_pad})


def convolution(g, x, pads=(0, 0), auto_pad="explicit"):
    w = np.random.default_rng(2).standard_normal((3, 4, 3, 3)).astype(np.float32)
    return g.op("Convolution", x, g.const(w), **dict(conv_attrs(pads), auto_pad=auto_pad))


def group_convolution(g, x, pads=(0, 0), auto_pad="explicit"):
    w = np.random.default_rng(3).standard_normal((4, 1, 1, 3, 3)).astype(np.float32)
    return g.op("GroupConvolution", x, g.const(w), **dict(conv_attrs(pads), auto_pad=auto_pad))


def outputs_match(tmp_path, before, after, names=("y",)):
    feeds = {"x": rng_input(SHAPE, low=-2, high=2)}
    actual = run_graph(after, tmp_path / "after", feeds)
    expected = run_graph(before, tmp_path / "before", feeds)
    for name in names:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6)


def build(window, before_pad=None, **pad_args):
    g = Graph()
    x = g.parameter("x", SHAPE, "f32")
    if before_pad:
        x = g.op(before_pad, x)
    g.result(window(g, pad(g, x, **pad_args)), "y")
    return g


SMALL_PAD = dict(begin=(0, 0, 1, 0), end=(0, 0, 0, 1))
# name: (window, Pad arguments, the window's pads_begin and pads_end after folding)
FOLDING = {
    "convolution": (convolution, {}, [1, 2], [2, 1]),
    "convolution_with_own_pads": (lambda g, x: convolution(g, x, pads=(1, 1)), {}, [2, 3], [3, 2]),
    "convolution_valid": (lambda g, x: convolution(g, x, auto_pad="valid"), {}, [1, 2], [2, 1]),
    "group_convolution": (group_convolution, {}, [1, 2], [2, 1]),
    "avg_pool_without_pads": (avg_pool, {}, [1, 2], [2, 1]),
    "avg_pool_counting_its_pads": (lambda g, x: avg_pool(g, x, exclude_pad=False, pads=(1, 1)),
                                   SMALL_PAD, [2, 1], [1, 2]),
}


@pytest.mark.parametrize("name", sorted(FOLDING))
def test_a_zero_pad_folds_into_the_window(tmp_path, name):
    window, pad_args, pads_begin, pads_end = FOLDING[name]
    g = build(window, **pad_args)
    before = snapshot(g)
    assert fold_pad_into_window.run(g) == 1
    assert op_counts(g)["Pad"] == 0
    folded = g.results[0].inputs[0].node
    assert (folded.attrs["pads_begin"], folded.attrs["pads_end"]) == (pads_begin, pads_end)
    outputs_match(tmp_path, before, g)


@pytest.mark.parametrize("value", [0.0, -1.0, -np.inf])
def test_max_pool_after_relu_takes_a_pad_that_never_wins(tmp_path, value):
    g = build(max_pool, before_pad="ReLU", value=value)
    before = snapshot(g)
    assert fold_pad_into_window.run(g) == 1
    assert op_counts(g)["Pad"] == 0 and op_counts(g)["MaxPool"] == 1
    outputs_match(tmp_path, before, g)


def test_max_pool_takes_minus_infinity_whatever_its_data(tmp_path):
    g = build(max_pool, value=-np.inf)
    before = snapshot(g)
    assert fold_pad_into_window.run(g) == 1
    outputs_match(tmp_path, before, g)


KEPT = {
    # zero padding can win the maximum of negative data
    "max_pool_zero_pad_any_data": dict(window=max_pool, value=0.0),
    "max_pool_pad_as_long_as_the_window": dict(window=max_pool, before_pad="ReLU",
                                               begin=(0, 0, 3, 0), end=(0, 0, 0, 0)),
    "convolution_nonzero_pad": dict(window=convolution, value=1.0),
    "pool_channel_pad": dict(window=avg_pool, begin=(0, 1, 0, 0), end=(0, 0, 0, 0)),
    "convolution_cropping_pad": dict(window=convolution, begin=(0, 0, -1, 0), end=(0, 0, 1, 0)),
    # the pool's own pads are left out of the average, the Pad's zeros are counted
    "avg_pool_excluding_its_pads": dict(window=lambda g, x: avg_pool(g, x, pads=(1, 1))),
    "avg_pool_nonzero_pad": dict(window=avg_pool, value=2.0),
    "avg_pool_ceil": dict(window=lambda g, x: avg_pool(g, x, rounding_type="ceil")),
}


@pytest.mark.parametrize("name", sorted(KEPT))
def test_a_pad_that_would_change_the_result_stays(name):
    args = dict(KEPT[name])
    g = build(args.pop("window"), **args)
    assert fold_pad_into_window.run(g) == 0
    assert op_counts(g)["Pad"] == 1


def test_a_pad_read_elsewhere_stays_for_that_reader(tmp_path):
    g = Graph()
    x = g.parameter("x", SHAPE, "f32")
    padded = pad(g, x)
    g.result(convolution(g, padded), "y")
    g.result(g.op("ReLU", padded), "z")
    before = snapshot(g)
    assert fold_pad_into_window.run(g) == 1
    convolution_node = [n for n in g.nodes() if n.op == "Convolution"][0]
    assert convolution_node.inputs[0].node.op == "Parameter"
    assert op_counts(g)["Pad"] == 1
    outputs_match(tmp_path, before, g, names=("y", "z"))


@pytest.mark.parametrize("window", ["convolution", "avg_pool_without_pads"])
def test_naming_the_pad_or_the_window_keeps_the_pad(tmp_path, window):
    """--finegrain_fusing naming the Pad or the op after it: the Pad stays, the window's own
    pads unchanged; a name outside the pair lets it fold."""
    build_window = FOLDING[window][0]
    for op in ("Pad", "Convolution" if window == "convolution" else "AvgPool"):
        g = build(build_window)
        before = snapshot(g)
        name = next(n.name for n in g.nodes() if n.op == op)
        assert fold_pad_into_window.run(g, finegrain(name)) == 0, name
        assert structure(g) == structure(before), name
    outputs_match(tmp_path / "kept", before, g)
    assert fold_pad_into_window.run(g, finegrain("x", "y")) == 1
    assert op_counts(g)["Pad"] == 0
    outputs_match(tmp_path / "folded", before, g)


def test_a_pad_read_by_two_windows_folds_into_the_one_not_named(tmp_path):
    g = Graph()
    padded = pad(g, g.parameter("x", SHAPE, "f32"))
    g.result(g.op("Convolution", padded, g.const(np.ones((2, 4, 3, 3), np.float32)),
                  name="kept_conv", **conv_attrs((0, 0))), "y")
    g.result(g.op("Convolution", padded, g.const(np.ones((2, 4, 3, 3), np.float32) / 2),
                  name="folded_conv", **conv_attrs((0, 0))), "z")
    before = snapshot(g)
    assert fold_pad_into_window.run(g, finegrain("kept_conv")) == 1
    readers = sorted((n.inputs[0].node.op, n.name) for n in g.nodes() if n.op == "Convolution")
    assert [op for op, _ in readers] == ["Pad", "Parameter"] and readers[0][1] == "kept_conv"
    outputs_match(tmp_path, before, g, names=("y", "z"))
