"""TF1 while loops whose trip count is only known at run time become one OpenVINO Loop.

Frozen GraphDefs with TF1 control flow (Enter/Merge/Switch/NextIteration/Exit/LoopCond) over a
dynamic time axis: a `tf.compat.v1.while_loop` over `tf.shape(x)[1]` filling a TensorArray,
`tf.compat.v1.nn.dynamic_rnn` with an LSTM and a GRU cell (and with `sequence_length` fed as
an input, as mozilla-deepspeech and CTPN graphs do), and a Keras LSTM frozen with its loop
lowered to TF1 control flow. Each is converted, run in OpenVINO at two sequence lengths and
compared with TensorFlow running the same frozen graph. The same loop with a static length
is still unrolled, and a frame a Loop cannot express is refused naming the frame and why."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino, run_tf_graph
from tf_support import v1_control_flow

FEATURES, UNITS, BATCH = 4, 3, 2
LENGTHS = (3, 8)
TOLERANCE = 1e-4  # of each output's range




def frozen_v1(tf, build) -> tuple[bytes, list[str]]:
    """The TF1 graph `build()` makes, its variables initialized from a fixed seed and frozen
    into constants: (GraphDef bytes, output tensor names)."""
    with v1_control_flow(), tf.Graph().as_default() as graph:
        tf.compat.v1.set_random_seed(5)
        outputs = build()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            graph_def = tf.compat.v1.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(), [output.op.name for output in outputs])
    return graph_def.SerializeToString(), [output.name for output in outputs]


def sequence(length: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (BATCH, length, FEATURES)).astype(np.float32)


def ir_ops(xml) -> Counter:
    return Counter(re.findall(r'<layer id="\d+" name="[^"]*" type="(\w+)"', xml.read_text()))


def source_ops(data: bytes, tf) -> Counter:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(data)
    return Counter(node.op for node in graph_def.node)


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    error = np.abs(actual - expected).max() / max(np.ptp(expected), 1e-6)
    assert error <= TOLERANCE, error


def check_dynamic(tmp_path, data: bytes, outputs: list[str], feeds_at) -> Counter:
    """Convert the frozen graph, run it in OpenVINO and TensorFlow with `feeds_at(length)`
    (tensor name -> value) for each length, compare every output; the IR's op counts."""
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    xml = convert(pb, tmp_path / "ir", "model")
    ops = ir_ops(xml)
    assert ops["Loop"] == 1, ops
    text = xml.read_text()
    assert "<port_map>" in text and "<back_edges>" in text
    for length in LENGTHS:
        feeds = feeds_at(length)
        expected = run_tf_graph(pb, feeds, outputs)
        actual = run_openvino(xml, {name.split(":")[0]: value for name, value in feeds.items()})
        for name in outputs:
            assert_close(actual[name], expected[name])
    return ops


def while_loop_over_time(tf, write_at=lambda i, n: i):
    """A decayed running sum over the time axis of x [batch, time, features], every step's
    tanh kept in a TensorArray at `write_at(step, steps)`: the graph's ("last", "steps")
    outputs."""
    x = tf.compat.v1.placeholder(tf.float32, [None, None, FEATURES], name="x")
    steps = tf.shape(x)[1]
    scale = tf.constant(np.linspace(0.5, 1.5, FEATURES).astype(np.float32))
    history = tf.TensorArray(tf.float32, size=steps)

    def body(i, total, history):
        total = total * 0.5 + tf.gather(x, i, axis=1) * scale
        return i + 1, total, history.write(write_at(i, steps), tf.tanh(total))

    _, total, history = tf.compat.v1.while_loop(lambda i, t, h: i < steps, body,
                                                (0, tf.zeros_like(x[:, 0]), history))
    return [tf.identity(total, name="last"),
            tf.identity(tf.transpose(history.stack(), [1, 0, 2]), name="steps")]


def test_while_loop_with_a_tensor_array_over_a_run_time_length(tf, tmp_path):
    data, outputs = frozen_v1(tf, lambda: while_loop_over_time(tf))
    assert {"Enter", "LoopCond", "TensorArrayV3", "TensorArrayWriteV3",
            "TensorArrayGatherV3"} <= set(source_ops(data, tf))
    ops = check_dynamic(tmp_path, data, outputs,
                        lambda length: {"x:0": sequence(length, length)})
    assert not [op for op in ops if "TensorArray" in op]


def dynamic_rnn(tf, cell: str, lengths: bool):
    """`tf.compat.v1.nn.dynamic_rnn` over x [batch, time, features] (and `lengths` [batch]
    when `lengths`): the graph's output sequence "y"."""
    from tensorflow.python.ops import rnn, rnn_cell_impl  # the TF1 cells Keras 3 dropped

    x = tf.compat.v1.placeholder(tf.float32, [None, None, FEATURES], name="x")
    flags = {}
    if lengths:
        flags["sequence_length"] = tf.compat.v1.placeholder(tf.int32, [None], name="lengths")
    make = {"lstm": rnn_cell_impl.LSTMCell, "gru": rnn_cell_impl.GRUCell}[cell]
    outputs, _ = rnn.dynamic_rnn(make(UNITS), x, dtype=tf.float32, **flags)
    return [tf.identity(outputs, name="y")]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dynamic_rnn_over_a_dynamic_time_axis(tf, tmp_path, cell):
    data, outputs = frozen_v1(tf, lambda: dynamic_rnn(tf, cell, lengths=False))
    assert {"TensorArrayScatterV3", "TensorArrayReadV3"} <= set(source_ops(data, tf))
    ops = check_dynamic(tmp_path, data, outputs,
                        lambda length: {"x:0": sequence(length, 20 + length)})
    assert ops["MatMul"] == (1 if cell == "lstm" else 2), ops  # the cell once, in the body


def test_dynamic_rnn_with_sequence_lengths(tf, tmp_path):
    """The loop stops at the longest sequence, before the time axis ends: the steps it does
    not run read as zeros, as TensorFlow gives them."""
    data, outputs = frozen_v1(tf, lambda: dynamic_rnn(tf, "lstm", lengths=True))

    def feeds(length):
        return {"x:0": sequence(length, 30 + length),
                "lengths:0": np.array([length - 1, 2], np.int32)}

    check_dynamic(tmp_path, data, outputs, feeds)
    expected = run_tf_graph(tmp_path / "model.pb", feeds(LENGTHS[1]), outputs)["y:0"]
    assert not expected[:, -1].any() and expected[0, -2].any()  # the loop stopped early


def lowered(tf, function, shape) -> bytes:
    """A tf.function frozen with its While lowered to TF1 control flow (as freezing does by
    default); control edges are kept, as TensorFlow needs them to run the loop."""
    from tensorflow.python.framework.convert_to_constants import \
        convert_variables_to_constants_v2

    concrete = tf.function(function).get_concrete_function(
        tf.TensorSpec(shape, tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=True)
    return frozen.graph.as_graph_def().SerializeToString()


def test_loop_stopping_before_its_list_ends(tf, tmp_path):
    """A loop that stops one step before the end of the list it fills: the element it never
    writes is stacked as zeros, as TensorFlow stacks it."""
    def history_but_last(x):
        steps = tf.shape(x)[1]
        history = tf.TensorArray(tf.float32, size=steps, element_shape=[None, FEATURES])

        def body(i, history):
            return i + 1, history.write(i, tf.tanh(tf.gather(x, i, axis=1)))

        _, history = tf.while_loop(lambda i, h: i < steps - 1, body, (0, history))
        return tf.transpose(history.stack(), [1, 0, 2])

    data = lowered(tf, history_but_last, (None, None, FEATURES))
    assert {"LoopCond", "TensorListReserve", "TensorListStack"} <= set(source_ops(data, tf))
    check_dynamic(tmp_path, data, ["Identity:0"],
                  lambda length: {"x:0": sequence(length, 60 + length)})


def test_keras_lstm_lowered_to_tf1_control_flow(tf, tmp_path):
    keras = tf.keras
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((None, FEATURES)),
                              keras.layers.LSTM(UNITS, return_sequences=True)])
    data = lowered(tf, lambda x: model(x, training=False), (None, None, FEATURES))
    assert {"Enter", "LoopCond", "TensorListReserve"} <= set(source_ops(data, tf))
    check_dynamic(tmp_path, data, ["Identity:0"],
                  lambda length: {"x:0": sequence(length, 40 + length)})


def test_map_fn_over_a_dynamic_batch(tf, tmp_path):
    """The Object Detection API Preprocessor's `map` (TensorArrays unstacked, read, written
    and stacked) over a batch whose size only the run time knows."""
    def build():
        images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="x")
        resized = tf.map_fn(lambda image: tf.compat.v1.image.resize_bilinear(
            image[None], [4, 4])[0] * (2.0 / 255.0) - 1.0, images, back_prop=False,
            name="Preprocessor/map")
        return [tf.identity(resized, name="y")]

    def feeds(batch):
        image = np.random.default_rng(batch).uniform(0, 255, (batch, 8, 6, 3))
        return {"x:0": image.astype(np.float32)}

    data, outputs = frozen_v1(tf, build)
    check_dynamic(tmp_path, data, outputs, feeds)


def test_static_length_still_unrolls(tf, tmp_path):
    """Given a static shape, the same TF1 loop is unrolled: no Loop, one Tanh per step."""
    data, outputs = frozen_v1(tf, lambda: while_loop_over_time(tf))
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    xml = convert(pb, tmp_path / "ir", "model", input_shape=[[BATCH, 5, FEATURES]])
    ops = ir_ops(xml)
    assert "Loop" not in ops and ops["Tanh"] == 5, ops
    x = sequence(5, 50)
    assert_close(run_openvino(xml, {"x": x})["steps:0"],
                 run_tf_graph(pb, {"x:0": x}, ["steps:0"])["steps:0"])


def test_tensor_array_written_out_of_order_is_refused(tf, tmp_path):
    """A TensorArray written back to front is no concatenated Loop output: refused, naming
    the frame and why."""
    data, _ = frozen_v1(tf, lambda: while_loop_over_time(tf, write_at=lambda i, n: n - 1 - i))
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    with pytest.raises(UserInputError) as refused:
        convert(pb, tmp_path / "ir", "model")
    assert re.search(r"while loop 'while/while_context' cannot be one OpenVINO Loop: its body "
                     r"writes loop variable \d+ \(Merge 'while/Merge_\d+'\).*not the "
                     r"iteration counter", str(refused.value)), refused.value
