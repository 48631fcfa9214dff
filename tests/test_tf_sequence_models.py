"""Keras sequence models (LSTM, GRU, SimpleRNN, Bidirectional, Conv1D, Embedding,
MultiHeadAttention, LayerNormalization) frozen to GraphDefs, converted, run in OpenVINO and
compared with TensorFlow running the same frozen graph.

A Keras RNN freezes into a while loop over TensorLists: lowered to TF1 control flow
(Enter/Merge/Switch/NextIteration/Exit) by default, or kept as a `While` op with cond/body
functions in the graph's library. Its sequence length is static here, so the loop is unrolled:
no Loop, TensorIterator or list op is left, and the cell's ops appear once per time step."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from converter import convert
from modelzoo.runtime import run_openvino, run_tf_graph

STEPS, FEATURES, UNITS, BATCH = 5, 4, 3, 2


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def frozen(model, shape, dtype="float32", lower: bool = True) -> bytes:
    """The model at `shape` as a frozen GraphDef; `lower` turns its While loops into TF1
    control flow (as freezing does by default). Control edges are kept, as TF needs them to
    run a lowered loop."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec(shape, dtype, name="x"))
    graph = convert_variables_to_constants_v2(concrete, lower_control_flow=lower).graph
    return graph.as_graph_def().SerializeToString()


def ir_ops(xml) -> Counter:
    return Counter(re.findall(r'<layer id="\d+" name="[^"]*" type="(\w+)"', xml.read_text()))


def check(tmp_path, data: bytes, x: np.ndarray, atol: float = 1e-5) -> Counter:
    """Convert, run both, compare the one output; the IR's op counts."""
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    xml = convert(pb, tmp_path / "ir", "model")
    expected = run_tf_graph(pb, {"x:0": x}, ["Identity:0"])["Identity:0"]
    actual = run_openvino(xml, {"x": x})["Identity:0"]
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=atol)
    ops = ir_ops(xml)
    assert not {"Loop", "TensorIterator"} & set(ops), ops
    return ops


def sequence(seed: int = 0, batch: int = BATCH) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, STEPS, FEATURES)).astype(np.float32)


def recurrent(keras, layer) -> object:
    keras.utils.set_random_seed(7)
    return keras.Sequential([keras.Input((STEPS, FEATURES)), layer])


# (id, layer factory, lower, sigmoids and tanhs per time step and direction)
RNN_CASES = [
    ("lstm_sequences_lowered", lambda L: L.LSTM(UNITS, return_sequences=True), True, (3, 2)),
    ("lstm_sequences_while", lambda L: L.LSTM(UNITS, return_sequences=True), False, (3, 2)),
    ("lstm_last_state", lambda L: L.LSTM(UNITS), True, (3, 2)),
    ("gru_reset_after", lambda L: L.GRU(UNITS), True, (2, 1)),
    ("gru_reset_before_while", lambda L: L.GRU(UNITS, reset_after=False, return_sequences=True),
     False, (2, 1)),
    ("simple_rnn", lambda L: L.SimpleRNN(UNITS, return_sequences=True), True, (0, 1)),
    ("simple_rnn_while", lambda L: L.SimpleRNN(UNITS), False, (0, 1)),
    ("lstm_go_backwards", lambda L: L.LSTM(UNITS, go_backwards=True, return_sequences=True),
     True, (3, 2)),
]


@pytest.mark.parametrize("layer, lower, per_step", [c[1:] for c in RNN_CASES],
                         ids=[c[0] for c in RNN_CASES])
def test_recurrent_layer_is_unrolled(keras, tmp_path, layer, lower, per_step):
    model = recurrent(keras, layer(keras.layers))
    ops = check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES), lower=lower), sequence())
    sigmoids, tanhs = per_step
    assert ops["Sigmoid"] == sigmoids * STEPS and ops["Tanh"] == tanhs * STEPS, ops


@pytest.mark.parametrize("lower", [True, False], ids=["lowered", "while"])
def test_bidirectional_lstm(keras, tmp_path, lower):
    layer = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True))
    model = recurrent(keras, layer)
    ops = check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES), lower=lower), sequence(1))
    assert ops["Sigmoid"] == 3 * STEPS * 2, ops


def test_bidirectional_gru_summed(keras, tmp_path):
    layer = keras.layers.Bidirectional(keras.layers.GRU(UNITS), merge_mode="sum")
    ops = check(tmp_path, frozen(recurrent(keras, layer), (BATCH, STEPS, FEATURES)), sequence(2))
    assert ops["Sigmoid"] == 2 * STEPS * 2, ops


def test_stacked_lstms_with_dense_head(keras, tmp_path):
    keras.utils.set_random_seed(3)
    L = keras.layers
    model = keras.Sequential([keras.Input((STEPS, FEATURES)),
                              L.LSTM(UNITS, return_sequences=True), L.LSTM(UNITS), L.Dense(2)])
    ops = check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES)), sequence(3))
    assert ops["Sigmoid"] == 3 * STEPS * 2, ops


def test_lstm_with_dynamic_batch(keras, tmp_path):
    """The batch is only known at run time; the trip count (the sequence length) is static."""
    model = recurrent(keras, keras.layers.LSTM(UNITS, return_sequences=True))
    ops = check(tmp_path, frozen(model, (None, STEPS, FEATURES)), sequence(4, batch=3))
    assert ops["Sigmoid"] == 3 * STEPS, ops


@pytest.mark.parametrize("padding, dilation", [("same", 1), ("causal", 2), ("valid", 1)])
def test_conv1d(keras, tmp_path, padding, dilation):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)),
                              keras.layers.Conv1D(3, 3, padding=padding, dilation_rate=dilation)])
    ops = check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES)), sequence(5))
    assert ops["Convolution"] == 1, ops


def test_embedding(keras, tmp_path):
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((STEPS,), dtype="int32"), keras.layers.Embedding(10, 4)])
    ids = np.random.default_rng(6).integers(0, 10, (BATCH, STEPS)).astype(np.int32)
    ops = check(tmp_path, frozen(model, (BATCH, STEPS), dtype="int32"), ids)
    assert ops["Gather"] == 1, ops


def test_embedding_into_lstm(keras, tmp_path):
    keras.utils.set_random_seed(8)
    L = keras.layers
    model = keras.Sequential([keras.Input((STEPS,), dtype="int32"), L.Embedding(10, FEATURES),
                              L.LSTM(UNITS)])
    ids = np.random.default_rng(8).integers(0, 10, (BATCH, STEPS)).astype(np.int32)
    ops = check(tmp_path, frozen(model, (BATCH, STEPS), dtype="int32"), ids)
    assert ops["Sigmoid"] == 3 * STEPS, ops


def test_multi_head_attention(keras, tmp_path):
    keras.utils.set_random_seed(9)
    inputs = keras.Input((STEPS, FEATURES))
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)(inputs, inputs)
    model = keras.Model(inputs, attended)
    ops = check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES)), sequence(9))
    assert ops["SoftMax"] == 1, ops


def test_layer_normalization(keras, tmp_path):
    keras.utils.set_random_seed(10)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.LayerNormalization()])
    weights = model.layers[0].get_weights()
    rng = np.random.default_rng(10)
    model.layers[0].set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                                 for w in weights])
    check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES)), sequence(10) * 3)


def test_transformer_block(keras, tmp_path):
    """Attention, residual, LayerNormalization and a feed-forward Conv1D, as in a small
    Keras text model."""
    keras.utils.set_random_seed(11)
    L = keras.layers
    inputs = keras.Input((STEPS, FEATURES))
    x = L.LayerNormalization()(inputs + L.MultiHeadAttention(2, 2)(inputs, inputs))
    x = L.Conv1D(FEATURES, 1, activation="relu")(x)
    model = keras.Model(inputs, L.GlobalAveragePooling1D()(x))
    check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES)), sequence(11))


def padded_ids(seed: int) -> np.ndarray:
    """Token ids with trailing zeros (padding) of different lengths per sequence."""
    ids = np.random.default_rng(seed).integers(1, 10, (BATCH, STEPS))
    lengths = np.array([STEPS, 2])[:, None]
    return (ids * (np.arange(STEPS) < lengths)).astype(np.int32)


@pytest.mark.parametrize("make", [
    lambda L: L.LSTM(UNITS),
    lambda L: L.Bidirectional(L.GRU(UNITS, return_sequences=True)),
], ids=["lstm", "bidirectional_gru"])
def test_masked_recurrence_over_padded_tokens(keras, tmp_path, make):
    """Embedding(mask_zero=True) masks the padding: the loop selects between the new and the
    previous state per step, by a mask computed from the ids at run time."""
    keras.utils.set_random_seed(12)
    L = keras.layers
    model = keras.Sequential([keras.Input((STEPS,), dtype="int32"),
                              L.Embedding(10, FEATURES, mask_zero=True), make(L)])
    ops = check(tmp_path, frozen(model, (BATCH, STEPS), dtype="int32"), padded_ids(12))
    assert ops["Select"] >= STEPS, ops


def padded_sequence(seed: int) -> np.ndarray:
    """Features with the last steps of the second sequence zeroed (what Masking skips)."""
    x = sequence(seed)
    x[1, 3:] = 0.0
    return x


# (id, model body after keras.Input((STEPS, FEATURES)), the input)
OTHER_LAYERS = [
    ("lstm_unroll_true", lambda L: [L.LSTM(UNITS, unroll=True, return_sequences=True)], sequence),
    ("time_distributed_and_1d_pools",
     lambda L: [L.TimeDistributed(L.Dense(3)), L.MaxPooling1D(2), L.GlobalMaxPooling1D()],
     sequence),
    ("average_pool_and_separable_conv1d", lambda L: [L.AveragePooling1D(2, padding="same"),
                                                     L.SeparableConv1D(3, 2)], sequence),
    ("masking_then_simple_rnn", lambda L: [L.Masking(0.0), L.SimpleRNN(UNITS)], padded_sequence),
    ("masking_then_lstm_sequences",
     lambda L: [L.Masking(0.0), L.LSTM(UNITS, return_sequences=True)], padded_sequence),
]


@pytest.mark.parametrize("body, make_input", [c[1:] for c in OTHER_LAYERS],
                         ids=[c[0] for c in OTHER_LAYERS])
def test_other_sequence_layers(keras, tmp_path, body, make_input):
    keras.utils.set_random_seed(13)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), *body(keras.layers)])
    check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES)), make_input(13))


def test_dot_product_attention_layer(keras, tmp_path):
    inputs = keras.Input((STEPS, FEATURES))
    model = keras.Model(inputs, keras.layers.Attention()([inputs, inputs]))
    ops = check(tmp_path, frozen(model, (BATCH, STEPS, FEATURES)), sequence(14))
    assert ops["SoftMax"] == 1, ops


def test_conv_lstm_2d(keras, tmp_path):
    keras.utils.set_random_seed(15)
    model = keras.Sequential([keras.Input((3, 4, 4, 2)),
                              keras.layers.ConvLSTM2D(2, 3, padding="same")])
    x = np.random.default_rng(15).uniform(-1, 1, (1, 3, 4, 4, 2)).astype(np.float32)
    ops = check(tmp_path, frozen(model, (1, 3, 4, 4, 2)), x)
    assert ops["Sigmoid"] == 3 * 3, ops


def test_cli_converts_a_bidirectional_lstm_with_a_dynamic_batch(keras, tmp_path):
    """As a user would: `python -m converter` on a frozen graph whose batch is dynamic, the
    batch fixed by --input_shape; the IR has static shapes and matches TensorFlow."""
    import subprocess
    import sys

    model = recurrent(keras, keras.layers.Bidirectional(keras.layers.LSTM(UNITS)))
    pb = tmp_path / "bilstm.pb"
    pb.write_bytes(frozen(model, (None, STEPS, FEATURES)))
    done = subprocess.run([sys.executable, "-m", "converter", "--input_model", str(pb),
                           "--output_dir", str(tmp_path / "ir"), "--input_shape",
                           f"[1,{STEPS},{FEATURES}]"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    x = sequence(16, batch=1)
    actual = run_openvino(tmp_path / "ir" / "bilstm.xml", {"x": x})["Identity:0"]
    np.testing.assert_allclose(actual, model(x).numpy(), rtol=1e-5, atol=1e-5)
    assert ir_ops(tmp_path / "ir" / "bilstm.xml")["Sigmoid"] == 3 * STEPS * 2
