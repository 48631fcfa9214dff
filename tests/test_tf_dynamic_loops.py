"""TF2 while loops whose trip count is only known at run time become one OpenVINO Loop.

Keras RNNs with a dynamic time axis (`keras.Input((None, FEATURES))`) and a hand-written
`tf.while_loop` over `tf.shape(x)[1]` filling a TensorArray, saved as SavedModels, read by our
own reader and converted: the IR holds a Loop (opset5, its body with port map and back edges),
runs in OpenVINO with two different sequence lengths, and matches TensorFlow. A loop the
converter cannot express as a Loop is refused naming its While node."""
from __future__ import annotations

import re

import numpy as np
import pytest

from converter import convert
from converter.frontends.tf.saved_model import read_saved_model
from modelzoo.runtime import run_openvino

FEATURES, UNITS, BATCH = 4, 3, 2
LENGTHS = (3, 8)
TOLERANCE = 1e-4

# (id, layer factory, Loops in the IR)
KERAS_LAYERS = [
    ("lstm_sequences", lambda L: L.LSTM(UNITS, return_sequences=True), 1),
    ("gru_last_state", lambda L: L.GRU(UNITS), 1),
    ("simple_rnn", lambda L: L.SimpleRNN(UNITS, return_sequences=True), 1),
    ("bidirectional_lstm", lambda L: L.Bidirectional(L.LSTM(UNITS, return_sequences=True)), 2),
]


def sequence(length: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (BATCH, length, FEATURES)).astype(np.float32)


def ir_ops(xml) -> list[str]:
    return re.findall(r'<layer id="\d+" name="[^"]*" type="(\w+)"', xml.read_text())


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    error = np.abs(actual - expected).max() / max(np.ptp(expected), 1e-6)
    assert error <= TOLERANCE, error


@pytest.mark.parametrize("make, loops", [c[1:] for c in KERAS_LAYERS],
                         ids=[c[0] for c in KERAS_LAYERS])
def test_keras_rnn_with_dynamic_time_axis_is_a_loop(tf, tmp_path, make, loops):
    keras = tf.keras
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((None, FEATURES)), make(keras.layers)])
    folder = tmp_path / "saved"
    tf.saved_model.save(model, str(folder))
    xml = convert(output_dir=tmp_path / "ir", model_name="m", saved_model_dir=str(folder))
    assert ir_ops(xml).count("Loop") == loops
    text = xml.read_text()
    assert "<port_map>" in text and "<back_edges>" in text
    (input_tensor,) = read_saved_model(folder).inputs.values()
    for seed, length in enumerate(LENGTHS):
        x = sequence(length, seed)
        outputs = run_openvino(xml, {input_tensor.split(":")[0]: x})
        assert_close(outputs["output_0"], model(x).numpy())


@pytest.fixture(scope="module")
def accumulator(tf, tmp_path_factory):
    """A tf.Module looping over the time axis of a [batch, time, features] input: a decayed
    running sum scaled by a variable (read inside the body), every step kept in a
    TensorArray; returns (folder, module)."""
    class Accumulator(tf.Module):
        def __init__(self):
            self.scale = tf.Variable(np.linspace(0.5, 1.5, FEATURES).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, None, FEATURES], tf.float32,
                                                    name="x")])
        def serve(self, x):
            steps = tf.shape(x)[1]
            history = tf.TensorArray(tf.float32, size=steps)

            def body(i, total, history):
                total = total * 0.5 + tf.gather(x, i, axis=1) * self.scale
                return i + 1, total, history.write(i, tf.tanh(total))

            _, total, history = tf.while_loop(lambda i, t, h: i < steps, body,
                                              (0, tf.zeros_like(x[:, 0]), history))
            return {"last": total, "steps": tf.transpose(history.stack(), [1, 0, 2])}

    module = Accumulator()
    folder = tmp_path_factory.mktemp("accumulator") / "saved"
    tf.saved_model.save(module, str(folder), signatures=module.serve)
    return folder, module


def test_while_loop_over_a_run_time_length(tf, accumulator, tmp_path):
    folder, module = accumulator
    xml = convert(output_dir=tmp_path, model_name="m", saved_model_dir=str(folder))
    assert ir_ops(xml).count("Loop") == 1
    for seed, length in enumerate(LENGTHS):
        x = sequence(length, 10 + seed)
        expected = {name: value.numpy() for name, value in module.serve(x).items()}
        outputs = run_openvino(xml, {"x": x})
        for name, value in expected.items():
            assert_close(outputs[name], value)


def test_static_length_still_unrolls(tf, accumulator, tmp_path):
    """Given a static shape, the same loop is unrolled: no Loop, one Tanh per step."""
    folder, module = accumulator
    xml = convert(output_dir=tmp_path, model_name="m", saved_model_dir=str(folder),
                  input_shape=[[BATCH, 5, FEATURES]])
    ops = ir_ops(xml)
    assert "Loop" not in ops and ops.count("Tanh") == 5, ops
    x = sequence(5, 20)
    assert_close(run_openvino(xml, {"x": x})["steps"], module.serve(x)["steps"].numpy())


def test_list_written_out_of_order_is_refused(tf, tmp_path):
    """A TensorArray written back to front is no concatenated Loop output: refused, naming
    the While node and why."""
    class Reversed(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="x")])
        def serve(self, x):
            steps = tf.shape(x)[1]

            def body(i, history):
                return i + 1, history.write(steps - 1 - i, tf.gather(x, i, axis=1))

            _, history = tf.while_loop(lambda i, h: i < steps, body,
                                       (0, tf.TensorArray(tf.float32, size=steps)))
            return history.stack()

    module = Reversed()
    tf.saved_model.save(module, str(tmp_path / "saved"), signatures=module.serve)
    with pytest.raises(Exception, match=r"While node .*not the iteration counter"):
        convert(output_dir=tmp_path / "ir", model_name="m", saved_model_dir=str(tmp_path / "saved"))
