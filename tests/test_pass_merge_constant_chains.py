"""merge_constant_chains: Multiply/Add/Subtract-by-constant chains become one Multiply and one
Add, wherever they stand."""
import numpy as np

from converter.graph import Graph
from converter.passes import merge_constant_chains
from graph_helpers import finegrain, op_counts, rng_input, run_graph, snapshot, structure

SHAPE = (2, 3, 4)


def const(g, shape, seed, low=0.5, high=2.0):
    return g.const(np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32))


def binary(g, op, a, b):
    return g.op(op, a, b, auto_broadcast="numpy")


def outputs_match(tmp_path, before, after, names=("y",)):
    feeds = {"x": rng_input(SHAPE)}
    actual = run_graph(after, tmp_path / "after", feeds)
    expected = run_graph(before, tmp_path / "before", feeds)
    for name in names:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6)


def arithmetic(g):
    counts = op_counts(g)
    return {op: counts[op] for op in ("Multiply", "Add", "Subtract") if counts[op]}


def test_a_long_scale_shift_chain_becomes_one_multiply_and_one_add(tmp_path):
    g = Graph()
    y = g.op("ReLU", g.parameter("x", SHAPE, "f32"))
    y = binary(g, "Multiply", y, const(g, (3, 1), 0))
    y = binary(g, "Add", y, const(g, (1,), 1))
    y = binary(g, "Multiply", const(g, (), 2), y)  # the constant first
    y = binary(g, "Subtract", y, const(g, (3, 1), 3))
    y = binary(g, "Add", y, const(g, (1, 3, 1), 4))
    y = binary(g, "Multiply", y, const(g, (3, 1), 5))
    g.result(g.op("Sigmoid", y), "y")
    before = snapshot(g)
    assert merge_constant_chains.run(g) > 0
    assert arithmetic(g) == {"Multiply": 1, "Add": 1}
    add = g.results[0].inputs[0].node.inputs[0].node
    assert add.op == "Add" and add.inputs[0].node.op == "Multiply"
    assert add.inputs[0].node.inputs[0].node.op == "ReLU"
    outputs_match(tmp_path, before, g)


def test_a_multiply_chain_becomes_one_multiply(tmp_path):
    g = Graph()
    y = g.op("Exp", g.parameter("x", SHAPE, "f32"))
    for seed in range(4):
        y = binary(g, "Multiply", y, const(g, (1, 3, 1), seed))
    g.result(y, "y")
    before = snapshot(g)
    assert merge_constant_chains.run(g) == 3
    assert arithmetic(g) == {"Multiply": 1}
    assert g.results[0].inputs[0].node.inputs[1].shape == (1, 3, 1)
    outputs_match(tmp_path, before, g)


def test_an_add_read_elsewhere_keeps_its_chain(tmp_path):
    g = Graph()
    a = binary(g, "Add", g.op("Exp", g.parameter("x", SHAPE, "f32")), const(g, (4,), 0))
    g.result(g.op("ReLU", a), "side")
    g.result(binary(g, "Add", a, const(g, (4,), 1)), "y")
    before = snapshot(g)
    assert merge_constant_chains.run(g) == 0
    assert arithmetic(g) == {"Add": 2}
    outputs_match(tmp_path, before, g, names=("y", "side"))


def test_constants_that_would_grow_stay_apart():
    """[3,1] * [1,4] would be a [3,4] constant: two small ones are cheaper than a large one."""
    g = Graph()
    y = g.op("Exp", g.parameter("x", SHAPE, "f32"))
    y = binary(g, "Multiply", binary(g, "Multiply", y, const(g, (3, 1), 0)), const(g, (4,), 1))
    g.result(y, "y")
    assert merge_constant_chains.run(g) == 0


def test_variable_operands_and_other_types_are_left_alone():
    g = Graph()
    x = g.parameter("x", SHAPE, "f32")
    both_variable = binary(g, "Multiply", binary(g, "Multiply", x, g.op("Exp", x)), const(g, (4,), 0))
    g.result(both_variable, "y")
    n = g.parameter("n", (3,), "i32")
    ints = binary(g, "Add", binary(g, "Add", n, g.const(np.array([1, 2, 3], np.int32))),
                  g.const(np.array(4, np.int32)))
    g.result(ints, "i")
    # the int chain merges (exact), the float one has no constant-by-constant link
    assert merge_constant_chains.run(g) == 1
    assert g.results[1].inputs[0].node.inputs[1].value.tolist() == [5, 6, 7]


def test_a_scale_and_its_inverse_leave_nothing(tmp_path):
    g = Graph()
    y = g.op("Exp", g.parameter("x", SHAPE, "f32"))
    y = binary(g, "Multiply", y, g.const(np.full((3, 1), 4, np.float32)))
    y = binary(g, "Multiply", y, g.const(np.float32(0.25)))
    y = binary(g, "Add", y, g.const(np.float32(1.5)))
    y = binary(g, "Subtract", y, g.const(np.full((1, 4), 1.5, np.float32)))
    g.result(g.op("Tanh", y), "y")
    before = snapshot(g)
    assert merge_constant_chains.run(g) == 2
    assert arithmetic(g) == {}
    assert g.results[0].inputs[0].node.inputs[0].node.op == "Exp"
    outputs_match(tmp_path, before, g)


# -- --finegrain_fusing --------------------------------------------------------------------------
def scale_shift_scale() -> Graph:
    """x -> ReLU -> Multiply(a) -> Add(b) -> Multiply(c) -> y."""
    g = Graph()
    y = g.op("ReLU", g.parameter("x", SHAPE, "f32"))
    y = g.op("Multiply", y, const(g, (3, 1), 0), name="scale", auto_broadcast="numpy")
    y = g.op("Add", y, const(g, (3, 1), 1), name="shift", auto_broadcast="numpy")
    g.result(g.op("Multiply", y, const(g, (3, 1), 2), name="rescale", auto_broadcast="numpy"), "y")
    return g


def test_naming_a_node_of_a_scale_shift_keeps_the_chain(tmp_path):
    """The Add or the Multiply after it named: nothing merges or is reordered; a name outside
    the chain lets it merge."""
    for name in ("shift", "rescale"):
        g = scale_shift_scale()
        before = snapshot(g)
        assert merge_constant_chains.run(g, finegrain(name)) == 0, name
        assert structure(g) == structure(before), name
    outputs_match(tmp_path / "kept", before, g)
    assert merge_constant_chains.run(g, finegrain("x", "y")) > 0
    assert arithmetic(g) == {"Multiply": 1, "Add": 1}
    outputs_match(tmp_path / "merged", before, g)


def test_a_named_multiply_splits_a_chain_there(tmp_path):
    """As the Model Optimizer's sequence fusing: the named node merges with neither neighbour,
    the rest of the chain still merges."""
    g = Graph()
    y = g.op("Exp", g.parameter("x", SHAPE, "f32"))
    for index in range(4):
        y = g.op("Multiply", y, const(g, (1, 3, 1), index), name=f"m{index}",
                 auto_broadcast="numpy")
    g.result(y, "y")
    before = snapshot(g)
    assert merge_constant_chains.run(g, finegrain("m1")) == 1
    assert arithmetic(g) == {"Multiply": 3}
    [named] = [n for n in g.nodes() if n.name == "m1"]
    assert named.inputs[0].node.name == "m0" and named.inputs[1].value is not None
    np.testing.assert_array_equal(named.inputs[1].value,
                                  next(n for n in before.nodes() if n.name == "m1").inputs[1].value)
    outputs_match(tmp_path, before, g)

