"""remove_noop_nodes: nodes that compute nothing are bypassed; the outputs stay the same."""
import numpy as np
import onnx
import openvino as ov
import pytest
from onnx import TensorProto, helper, numpy_helper

from converter import convert
from converter.frontends.tf.handlers import registry as tf_handlers
from converter.graph import Graph
from converter.passes import remove_noop_nodes
from graph_helpers import op_counts, rng_input, run_graph, snapshot
from modelzoo.runtime import run_openvino

SHAPE = (1, 3, 4, 5)


def i64(values):
    return np.array(values, np.int64)


def assert_same_outputs(tmp_path, before, after, feeds):
    expected = run_graph(before, tmp_path / "before", feeds)
    actual = run_graph(after, tmp_path / "after", feeds)
    for name in ("y",):
        np.testing.assert_array_equal(actual[name], expected[name])


NOOPS = {
    "reshape_to_same_shape": lambda g, x: g.op("Reshape", x, g.const(i64(SHAPE)), special_zero=False),
    "reshape_with_zeros": lambda g, x: g.op("Reshape", x, g.const(i64([0, 0, 4, -1])), special_zero=True),
    "identity_transpose": lambda g, x: g.op("Transpose", x, g.const(i64([0, 1, 2, 3]))),
    "convert_to_same_type": lambda g, x: g.op("Convert", x, destination_type="f32"),
    "broadcast_to_same_shape": lambda g, x: g.op("Broadcast", x, g.const(i64(SHAPE)), mode="numpy"),
    "multiply_by_one": lambda g, x: g.op("Multiply", x, g.const(np.ones((1, 3, 1, 1), np.float32)),
                                         auto_broadcast="numpy"),
    "one_times": lambda g, x: g.op("Multiply", g.const(np.float32(1)), x, auto_broadcast="numpy"),
    "add_zero": lambda g, x: g.op("Add", x, g.const(np.zeros(5, np.float32)), auto_broadcast="numpy"),
    "subtract_zero": lambda g, x: g.op("Subtract", x, g.const(np.float32(0)), auto_broadcast="numpy"),
    "divide_by_one": lambda g, x: g.op("Divide", x, g.const(np.float32(1)), auto_broadcast="numpy"),
    "concat_of_one": lambda g, x: g.op("Concat", x, axis=1),
    "split_into_one": lambda g, x: g.op("Split", x, g.const(i64(1)), num_splits=1),
    "zero_pad": lambda g, x: g.op("Pad", x, g.const(i64([0] * 4)), g.const(i64([0] * 4)),
                                  g.const(np.float32(0)), pad_mode="constant"),
    "tile_by_ones": lambda g, x: g.op("Tile", x, g.const(i64([1, 1, 1, 1]))),
    "full_slice": lambda g, x: g.op("Slice", x, g.const(i64([0])), g.const(i64([100])),
                                    g.const(i64([1])), g.const(i64([2]))),
    "squeeze_unsqueeze": lambda g, x: g.op("Unsqueeze", g.op("Squeeze", x, g.const(i64([0]))),
                                           g.const(i64([0]))),
    "unsqueeze_squeeze": lambda g, x: g.op("Squeeze", g.op("Unsqueeze", x, g.const(i64([2]))),
                                           g.const(i64([2]))),
}


@pytest.mark.parametrize("name", sorted(NOOPS))
def test_a_noop_between_two_ops_is_removed(tmp_path, name):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", SHAPE, "f32"))
    g.result(g.op("Sigmoid", NOOPS[name](g, x)), "y")
    before = snapshot(g)
    assert remove_noop_nodes.run(g) >= 1
    assert set(op_counts(g)) <= {"Parameter", "ReLU", "Sigmoid", "Result", "Const"}
    assert op_counts(g)["Const"] == 0  # the shapes, orders and operands went with their nodes
    assert_same_outputs(tmp_path, before, g, {"x": rng_input(SHAPE)})


def test_a_chain_of_noops_goes_in_one_run(tmp_path):
    g = Graph()
    x = g.op("Exp", g.parameter("x", SHAPE, "f32"))
    for name in ("identity_transpose", "reshape_to_same_shape", "multiply_by_one", "add_zero",
                 "convert_to_same_type", "concat_of_one"):
        x = NOOPS[name](g, x)
    g.result(g.op("Tanh", x), "y")
    before = snapshot(g)
    assert remove_noop_nodes.run(g) == 6
    assert op_counts(g) == {"Parameter": 1, "Exp": 1, "Tanh": 1, "Result": 1}
    assert_same_outputs(tmp_path, before, g, {"x": rng_input(SHAPE)})


SOME_WORK = {
    "reshape": lambda g, x: g.op("Reshape", x, g.const(i64([1, 3, 20])), special_zero=False),
    "transpose": lambda g, x: g.op("Transpose", x, g.const(i64([0, 1, 3, 2]))),
    "convert": lambda g, x: g.op("Convert", x, destination_type="f16"),
    "broadcast": lambda g, x: g.op("Broadcast", x, g.const(i64([2, 3, 4, 5])), mode="numpy"),
    "multiply_almost_one": lambda g, x: g.op("Multiply", x, g.const(np.float32(1.0000001)),
                                             auto_broadcast="numpy"),
    "multiply_ones_broadcasting": lambda g, x: g.op("Multiply", x, g.const(np.ones((2, 1, 1, 1), np.float32)),
                                                    auto_broadcast="numpy"),
    "zero_minus": lambda g, x: g.op("Subtract", g.const(np.float32(0)), x, auto_broadcast="numpy"),
    "one_over": lambda g, x: g.op("Divide", g.const(np.float32(1)), x, auto_broadcast="numpy"),
    "shifting_pad": lambda g, x: g.op("Pad", x, g.const(i64([0, 0, 0, 1])), g.const(i64([0, 0, 0, -1])),
                                      g.const(np.float32(0)), pad_mode="constant"),
    "reversing_slice": lambda g, x: g.op("Slice", x, g.const(i64([-1])), g.const(i64([-100])),
                                         g.const(i64([-1])), g.const(i64([3]))),
    "squeeze_then_reshape_elsewhere": lambda g, x: g.op(
        "Unsqueeze", g.op("Squeeze", x, g.const(i64([0]))), g.const(i64([3]))),
}


@pytest.mark.parametrize("name", sorted(SOME_WORK))
def test_what_changes_the_data_stays(tmp_path, name):
    g = Graph()
    x = g.parameter("x", SHAPE, "f32")
    g.result(g.op("ReLU", SOME_WORK[name](g, x)), "y")
    counts = op_counts(g)
    assert remove_noop_nodes.run(g) == 0
    assert op_counts(g) == counts


def test_dynamic_shapes_count_as_equal_only_with_one_unknown_dimension():
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (-1, 3), "f32"))
    g.result(g.op("Reshape", x, g.const(i64([-1, 3])), special_zero=False), "one")
    y = g.op("ReLU", g.parameter("y", (-1, -1), "f32"))
    # [-1, -1] -> [0, -1]: the same shape, proven only when no element moves; kept
    g.result(g.op("Reshape", y, g.const(i64([0, -1])), special_zero=True), "two")
    assert remove_noop_nodes.run(g) == 1
    kept = [r.inputs[0].node.op for r in g.results]
    assert kept == ["ReLU", "Reshape"]


def test_a_model_output_never_becomes_the_input_tensor(tmp_path):
    """x -> Reshape(same) -> output: bypassing would give the output the input's tensor."""
    g = Graph()
    x = g.parameter("x", (2, 3), "f32")
    g.result(g.op("Reshape", x, g.const(i64([2, 3])), special_zero=False), "y")
    assert remove_noop_nodes.run(g) == 0
    feeds = {"x": rng_input((2, 3))}
    np.testing.assert_array_equal(run_graph(g, tmp_path, feeds)["y"], feeds["x"])


def test_a_noop_producing_a_model_output_moves_its_name(tmp_path):
    g = Graph()
    x = g.op("ReLU", g.parameter("x", (2, 3), "f32"))
    g.result(g.op("Transpose", x, g.const(i64([0, 1]))), "y")
    before = snapshot(g)
    assert remove_noop_nodes.run(g) == 1
    out = g.results[0].inputs[0]
    assert out.node.op == "ReLU" and "y" in out.info.names
    assert_same_outputs(tmp_path, before, g, {"x": rng_input((2, 3))})


def test_identity_dropout_and_stop_gradient_never_reach_the_graph(tmp_path):
    """Frontends map them to their input; what stays (a Reshape to the same shape, a Multiply
    by one) the pass removes in a whole conversion."""
    nodes = [helper.make_node("Identity", ["x"], ["a"]),
             helper.make_node("Dropout", ["a"], ["b"]),
             helper.make_node("Relu", ["b"], ["c"]),
             helper.make_node("Reshape", ["c", "shape"], ["d"]),
             helper.make_node("Mul", ["d", "one"], ["e"]),
             helper.make_node("Sigmoid", ["e"], ["y"])]
    graph = helper.make_graph(
        nodes, "noops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(i64([2, 3]), "shape"),
         numpy_helper.from_array(np.ones(3, np.float32), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "m.onnx"))
    xml = convert(tmp_path / "m.onnx", tmp_path / "ir", "m")
    ops = sorted(op.get_type_name() for op in ov.Core().read_model(str(xml)).get_ordered_ops())
    assert ops == ["Parameter", "Relu", "Result", "Sigmoid"]
    x = rng_input((2, 3))
    y = run_openvino(xml, {"x": x})["y"]
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-np.maximum(x, 0))), rtol=1e-6)


@pytest.mark.parametrize("op", ["Identity", "StopGradient", "PreventGradient", "Snapshot"])
def test_tensorflow_training_only_ops_are_their_input(op):
    """The TF frontend maps them to their input: no node is made (Keras' Dropout is an Identity
    in an inference graph). Checked on the handler, without importing TensorFlow."""
    class Context:
        def input(self, index):
            return ("the input", index)

    assert tf_handlers.lookup(op)(Context()) == ("the input", 0)


@pytest.mark.parametrize("op", ["Slice", "Tile"])
def test_a_dynamic_length_is_not_taken_for_a_kept_one(tmp_path, op):
    """[-1] sliced (or tiled by run-time repeats) is [-1] too, yet holds other elements."""
    g = Graph("dynamic")
    x = g.parameter("x", (-1,), "f32")
    if op == "Slice":
        y = g.op("Slice", x, g.const(i64([1])), g.const(i64([1 << 30])), g.const(i64([1])))
    else:
        repeats = g.parameter("repeats", (1,), "i64")
        y = g.op("Tile", x, repeats)
    g.result(g.op("ReLU", y), "y")  # not the model's output itself, which is kept anyway
    before = snapshot(g)
    assert remove_noop_nodes.run(g) == 0
    assert op_counts(g)[op] == 1
    feeds = {"x": np.arange(5, dtype=np.float32)}
    if op == "Tile":
        feeds["repeats"] = i64([2])
    assert_same_outputs(tmp_path, before, g, feeds)
