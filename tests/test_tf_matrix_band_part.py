"""TensorFlow's MatrixBandPart (keep the entries within num_lower diagonals below and num_upper
above the main one, -1 keeping a whole side; zero the rest), as Keras' MultiHeadAttention
builds its causal mask with it (`use_causal_mask=True`).

The op alone is checked against TensorFlow for constant bounds (0, -1, wider than the matrix),
batch axes, non-square matrices, boolean data, bounds given at run time and shapes known only
at run time; then a Keras MultiHeadAttention with a causal mask, frozen and as a SavedModel,
against TensorFlow (FP32, within 1e-4 of the output's range)."""
from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from converter import convert
from modelzoo.runtime import run_openvino, run_tf_graph
from tf_support import check_graph, feeds_for, graph_def_of, random

TOLERANCE = 1e-4
STEPS, FEATURES, BATCH = 6, 4, 2


def ir_ops(xml: Path) -> Counter:
    return Counter(re.findall(r'<layer id="\d+" name="[^"]*" type="(\w+)"', xml.read_text()))


# (num_lower, num_upper) on 5 x 4 or 5 x 6 matrices: the diagonal alone, a whole side kept,
# everything, a band, and bounds as large as TensorFlow allows (the rows, the columns: all kept)
BOUNDS = [(0, 0), (-1, 0), (0, -1), (-1, -1), (1, 2), (2, 0), (5, 4)]


@pytest.mark.parametrize("lower, upper", BOUNDS, ids=[f"{lo}_{up}" for lo, up in BOUNDS])
def test_constant_bounds_match_tensorflow(tf, tmp_path, lower, upper):
    """A [2,3,5,4] batch of non-square matrices; the mask folds into a constant."""
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [2, 3, 5, 4], name="x")
        return tf.identity(tf.linalg.band_part(x, lower, upper), name="y")

    xml = check_graph(tf, tmp_path, graph, {"x": random([2, 3, 5, 4], seed=1)})
    assert "Range" not in ir_ops(xml)


def test_boolean_matrix_with_int32_bounds(tf, tmp_path):
    """As Keras builds its causal mask: band_part of a boolean matrix of ones, then used."""
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.bool, [3, 7, 7], name="x")
        bounds = tf.constant(-1, tf.int32), tf.constant(1, tf.int32)
        return tf.identity(tf.linalg.band_part(x, *bounds), name="y")

    flags = np.random.default_rng(2).uniform(size=(3, 7, 7)) > 0.3
    check_graph(tf, tmp_path, graph, {"x": flags})


def converted_once(tf, tmp_path: Path, build) -> tuple[Path, Path, list[str]]:
    """The graph `build(tf)` makes, written and converted once: (pb, IR xml, output names)."""
    data, outputs = graph_def_of(tf, build)
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    return pb, convert(pb, tmp_path / "ir", "model"), outputs


def assert_same(pb: Path, xml: Path, outputs: list[str], feeds: dict[str, np.ndarray]) -> None:
    expected = run_tf_graph(pb, {f"{k}:0": v for k, v in feeds.items()}, outputs)[outputs[0]]
    actual = run_openvino(xml, feeds_for(feeds))[outputs[0]]
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(actual, expected)


def test_bounds_given_at_run_time(tf, tmp_path):
    """num_lower and num_upper are model inputs: one IR serves every band, -1 included."""
    def graph(tf):
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, [2, 5, 6], name="x")
        lower = v1.placeholder(tf.int64, [], name="lower")
        upper = v1.placeholder(tf.int64, [], name="upper")
        return tf.identity(tf.linalg.band_part(x, lower, upper), name="y")

    pb, xml, outputs = converted_once(tf, tmp_path, graph)
    x = random([2, 5, 6], seed=3)
    for lower, upper in BOUNDS:
        assert_same(pb, xml, outputs, {"x": x, "lower": np.array(lower, np.int64),
                                       "upper": np.array(upper, np.int64)})


def test_shape_known_at_run_time(tf, tmp_path):
    """Every axis unknown when converting: the band is built from the run-time shape."""
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [None, None, None], name="x")
        return tf.identity(tf.linalg.band_part(x, 1, 0), name="y")

    pb, xml, outputs = converted_once(tf, tmp_path, graph)
    for seed, shape in enumerate([(1, 4, 4), (3, 6, 2), (2, 3, 8)]):
        assert_same(pb, xml, outputs, {"x": random(shape, seed=seed)})


# -- Keras MultiHeadAttention with a causal mask ----------------------------------------------

@pytest.fixture(scope="module")
def causal_attention(tf):
    """A seeded self-attention block with use_causal_mask=True, and an input for it."""
    keras = tf.keras
    keras.utils.set_random_seed(11)
    inputs = keras.Input((STEPS, FEATURES))
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)(inputs, inputs,
                                                                        use_causal_mask=True)
    model = keras.Model(inputs, attended)
    x = np.random.default_rng(11).uniform(-1, 1, (BATCH, STEPS, FEATURES)).astype(np.float32)
    return model, x


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.abs(actual - expected).max() / np.ptp(expected))


def test_causal_attention_frozen_matches_tensorflow(tmp_path, causal_attention):
    from test_tf_sequence_models import frozen

    model, x = causal_attention
    pb = tmp_path / "attention.pb"
    pb.write_bytes(frozen(model, (None, STEPS, FEATURES)))
    xml = convert(pb, tmp_path / "ir", "attention")
    expected = run_tf_graph(pb, {"x:0": x}, ["Identity:0"])["Identity:0"]
    actual = run_openvino(xml, {"x": x})["Identity:0"]
    assert relative_error(actual, expected) <= TOLERANCE
    ops = ir_ops(xml)
    assert ops["SoftMax"] == 1 and "Range" not in ops, ops  # the mask is one constant


@pytest.mark.parametrize("export", ["saved_model_save", "model_export"])
def test_causal_attention_saved_model_matches_tensorflow(tf, tmp_path, causal_attention,
                                                         export, caplog):
    from test_tf_saved_model_sequence import run_saved_model

    model, x = causal_attention
    folder = tmp_path / "saved"
    if export == "model_export":
        model.export(str(folder), verbose=False)
    else:
        tf.saved_model.save(model, str(folder))
    with caplog.at_level(logging.INFO):
        xml = convert(output_dir=tmp_path / "ir", model_name="attention",
                      saved_model_dir=str(folder))
    assert not [r for r in caplog.records if "through TensorFlow" in r.getMessage()]
    expected = run_saved_model(tf, folder, x)
    actual = run_openvino(xml, {p: x for p in _input_names(xml)})["output_0"]
    assert relative_error(actual, expected) <= TOLERANCE
    assert ir_ops(xml)["SoftMax"] == 1


def _input_names(xml: Path) -> list[str]:
    """The IR's one input, under the name OpenVINO gives it."""
    names = re.findall(r'<layer id="\d+" name="([^"]*)" type="Parameter"', xml.read_text())
    assert len(names) == 1, names
    return names
