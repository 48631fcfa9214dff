"""Keras sequence models other than RNNs (Conv1D, Embedding, Embedding into an LSTM,
MultiHeadAttention, LayerNormalization, a small transformer block) as SavedModels, read by our
own SavedModel reader without the TensorFlow fallback.

Each model is written both ways Keras 3 offers (`tf.saved_model.save` and `model.export`),
converted in a fresh interpreter in which `import tensorflow` fails (so a fallback could not
go unnoticed; the log is checked too), and compared with TensorFlow running the SavedModel's
serving signature (FP32, within 1e-4 of the output's range). The models are those
tests/test_tf_sequence_models.py freezes, with its sizes and inputs."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from converter.frontends.tf.saved_model import read_saved_model
from modelzoo.runtime import run_openvino
from test_tf_sequence_models import FEATURES, STEPS, UNITS, padded_ids, sequence
from tf_support import convert_without_tensorflow

TOLERANCE = 1e-4
EXPORTS = ["saved_model_save", "model_export"]


def token_ids(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, (2, STEPS)).astype(np.int32)


def sequential(keras, *layers, tokens: bool = False):
    """A Sequential over (STEPS, FEATURES) floats, or over STEPS token ids."""
    first = keras.Input((STEPS,), dtype="int32") if tokens else keras.Input((STEPS, FEATURES))
    return keras.Sequential([first, *layers])


def attention(keras):
    inputs = keras.Input((STEPS, FEATURES))
    return keras.Model(inputs, keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)(inputs,
                                                                                         inputs))


def layer_normalization(keras):
    """Its scale and offset set away from 1 and 0, so that both are checked."""
    model = sequential(keras, keras.layers.LayerNormalization())
    rng = np.random.default_rng(10)
    model.layers[0].set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                                 for w in model.layers[0].get_weights()])
    return model


def transformer_block(keras):
    """Attention, residual, LayerNormalization and a feed-forward Conv1D, pooled."""
    L = keras.layers
    inputs = keras.Input((STEPS, FEATURES))
    x = L.LayerNormalization()(inputs + L.MultiHeadAttention(2, 2)(inputs, inputs))
    x = L.Conv1D(FEATURES, 1, activation="relu")(x)
    return keras.Model(inputs, L.GlobalAveragePooling1D()(x))


# (id, model factory, input, IR op counts it must have); no Loop or TensorIterator either
CASES = [
    ("conv1d_same", lambda k: sequential(k, k.layers.Conv1D(3, 3, padding="same")),
     sequence(5), {"Convolution": 1}),
    ("conv1d_causal_dilated",
     lambda k: sequential(k, k.layers.Conv1D(3, 3, padding="causal", dilation_rate=2)),
     sequence(5), {"Convolution": 1}),
    ("conv1d_same_dilated",
     lambda k: sequential(k, k.layers.Conv1D(3, 2, padding="same", dilation_rate=2)),
     sequence(6), {"Convolution": 1}),
    ("embedding", lambda k: sequential(k, k.layers.Embedding(10, 4), tokens=True),
     token_ids(6), {"Gather": 1}),
    ("embedding_into_lstm",
     lambda k: sequential(k, k.layers.Embedding(10, FEATURES), k.layers.LSTM(UNITS),
                          tokens=True), token_ids(8), {"Sigmoid": 3 * STEPS}),
    # Keras runs the masked cell once ahead of its loop (to shape the initial output), which
    # the SavedModel keeps: no fixed count per step here.
    ("masked_embedding_into_bidirectional_gru",
     lambda k: sequential(k, k.layers.Embedding(10, FEATURES, mask_zero=True),
                          k.layers.Bidirectional(k.layers.GRU(UNITS)), tokens=True),
     padded_ids(12), {}),
    ("multi_head_attention", attention, sequence(9), {"SoftMax": 1}),
    ("layer_normalization", layer_normalization, sequence(10) * 3, {"MVN": 1}),
    ("transformer_block", transformer_block, sequence(11),
     {"SoftMax": 1, "MVN": 1, "Convolution": 1}),
]


@pytest.fixture(scope="module")
def models(tf, tmp_path_factory):
    """Every model of CASES, seeded, written both ways: (id, export) -> folder."""
    keras = tf.keras
    root = tmp_path_factory.mktemp("sequence")
    folders = {}
    for name, make, _, _ in CASES:
        keras.utils.set_random_seed(7)
        model = make(keras)
        tf.saved_model.save(model, str(root / f"{name}_saved"))
        model.export(str(root / f"{name}_exported"), verbose=False)
        folders[name, "saved_model_save"] = root / f"{name}_saved"
        folders[name, "model_export"] = root / f"{name}_exported"
    return folders


@pytest.fixture(scope="module")
def converted(models, tmp_path_factory):
    """Every SavedModel converted in one interpreter that cannot import TensorFlow."""
    out = tmp_path_factory.mktemp("sequence_ir")
    jobs = {str(out / folder.name): {"saved_model_dir": str(folder)} for folder in models.values()}
    reports = convert_without_tensorflow(jobs)
    return {jobs[output]["saved_model_dir"]: report for output, report in reports.items()}


def run_saved_model(tf, folder: Path, x: np.ndarray) -> np.ndarray:
    """TensorFlow running the SavedModel's serving signature on `x`."""
    serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
    (name,) = serve.structured_input_signature[1]
    (output,) = serve(**{name: tf.constant(x)}).values()
    return output.numpy()


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("name, x, ops", [(c[0], c[2], c[3]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_sequence_saved_model_converts_without_fallback(tf, models, converted, name, x, ops,
                                                        export):
    folder = models[name, export]
    report = converted[str(folder)]
    assert not report["xml"].startswith("failed"), report["xml"]
    assert not [line for line in report["log"] if "through TensorFlow" in line], report["log"]
    expected = run_saved_model(tf, folder, x)
    (input_tensor,) = read_saved_model(folder).inputs.values()
    actual = run_openvino(report["xml"], {input_tensor.split(":")[0]: x})["output_0"]
    assert actual.shape == expected.shape
    error = np.abs(actual - expected).max() / np.ptp(expected)
    assert error <= TOLERANCE, error
    counts = Counter(re.findall(r'<layer id="\d+" name="[^"]*" type="(\w+)"',
                                Path(report["xml"]).read_text()))
    assert {op: counts[op] for op in ops} == ops, counts
    assert not {"Loop", "TensorIterator"} & set(counts), counts
