"""LSTM, GRU and RNN of the ONNX frontend: the onnx wheel's node cases, and against onnxruntime
what they leave out (sequence_lens, initial states, clip, linear_before_reset, other
activations, input_forget, layout 1, a dynamic batch), on both paths: OpenVINO's sequence ops,
and the unrolled cells for what those cannot express."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from converter import convert
from converter.errors import ConversionError

from onnx_conformance_cases import assert_conforms, case_id, cases_of
from modelzoo.runtime import run_onnxruntime, run_openvino
from onnx_testing import convert_and_compare, ir_layer_types, make_model

FLOAT = TensorProto.FLOAT
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


@pytest.mark.parametrize("case", cases_of("LSTM", "GRU", "RNN"), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _layer_model(kind: str, *, seq=4, batch=3, inputs=2, hidden=5, direction="forward",
                 layout=0, with_bias=True, lengths=None, initial=False, peepholes=False,
                 batch_dim=None, seq_dim=None, opset=14, **attrs):
    """One recurrent node over X, with W, R (and B, P) as initializers and sequence_lens and
    the initial states as inputs when asked for."""
    rng = np.random.default_rng(7)
    directions = 2 if direction == "bidirectional" else 1
    gates = GATES[kind]
    weights = {
        "W": rng.uniform(-0.6, 0.6, (directions, gates * hidden, inputs)).astype(np.float32),
        "R": rng.uniform(-0.6, 0.6, (directions, gates * hidden, hidden)).astype(np.float32),
    }
    names = ["X", "W", "R", "", "", "", "", ""]
    if with_bias:
        weights["B"] = rng.uniform(-0.5, 0.5, (directions, 2 * gates * hidden)).astype(np.float32)
        names[3] = "B"
    b, s = batch_dim or batch, seq_dim or seq
    x_shape = (s, b, inputs) if layout == 0 else (b, s, inputs)
    state_shape = (directions, b, hidden) if layout == 0 else (b, directions, hidden)
    graph_inputs = {"X": (x_shape, FLOAT)}
    feeds = {"X": rng.standard_normal((seq, batch, inputs) if layout == 0
                                      else (batch, seq, inputs)).astype(np.float32)}
    if lengths is not None:
        names[4] = "sequence_lens"
        graph_inputs["sequence_lens"] = ((b,), TensorProto.INT32)
        feeds["sequence_lens"] = np.array(lengths, np.int32)
    if initial:
        concrete = (directions, batch, hidden) if layout == 0 else (batch, directions, hidden)
        for index, name in ((5, "initial_h"), (6, "initial_c"))[:2 if kind == "LSTM" else 1]:
            names[index] = name
            graph_inputs[name] = (state_shape, FLOAT)
            feeds[name] = rng.standard_normal(concrete).astype(np.float32)
    if peepholes:
        weights["P"] = rng.uniform(-0.5, 0.5, (directions, 3 * hidden)).astype(np.float32)
        names[7] = "P"
    while names and not names[-1]:
        names.pop()
    outputs = ["Y", "Y_h", "Y_c"][:3 if kind == "LSTM" else 2]
    if opset >= 14:  # layout came with opset 14
        attrs["layout"] = layout
    node = helper.make_node(kind, names, outputs, name="layer", hidden_size=hidden,
                            direction=direction, **attrs)
    model = make_model([node], graph_inputs, {o: (None, FLOAT) for o in outputs}, opset, weights)
    return model, feeds


def _check(tmp_path, kind, unrolled=False, **options):
    model, feeds = _layer_model(kind, **options)
    xml = convert_and_compare(model, tmp_path, feeds=feeds, rtol=1e-4, atol=1e-5)
    assert (f"{kind}Sequence" not in ir_layer_types(xml)) == unrolled
    return xml


# -- OpenVINO's sequence ops ------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_sequence_lengths_and_initial_states(tmp_path, kind, direction):
    _check(tmp_path, kind, direction=direction, lengths=[4, 2, 1], initial=True)


def _check_batch_major(tmp_path, kind, unrolled=False, **options):
    """onnxruntime has no layout 1: the layout-1 IR is compared with onnxruntime on the same
    layer in layout 0, its inputs and outputs transposed."""
    time_major, feeds = _layer_model(kind, layout=0, **options)
    batch_major, _ = _layer_model(kind, layout=1, **options)
    swapped = {name: value if name == "sequence_lens" else value.transpose(1, 0, 2)
               for name, value in feeds.items()}
    onnx.save(time_major, str(tmp_path / "time_major.onnx"))
    onnx.save(batch_major, str(tmp_path / "batch_major.onnx"))
    expected = run_onnxruntime(tmp_path / "time_major.onnx", feeds)
    xml = convert(tmp_path / "batch_major.onnx", output_dir=tmp_path / "ir", model_name="model")
    actual = run_openvino(xml, swapped)
    for name, value in expected.items():
        order = (2, 0, 1, 3) if name == "Y" else (1, 0, 2)
        np.testing.assert_allclose(actual[name], value.transpose(order), rtol=1e-4, atol=1e-5,
                                   err_msg=name)
    assert (f"{kind}Sequence" not in ir_layer_types(xml)) == unrolled


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_batch_major_layout_with_initial_states(tmp_path, kind):
    _check_batch_major(tmp_path, kind, direction="bidirectional", initial=True, lengths=[3, 4, 2])


def test_batch_major_layout_unrolled(tmp_path):
    _check_batch_major(tmp_path, "LSTM", unrolled=True, direction="bidirectional", initial=True,
                       lengths=[3, 4, 2], peepholes=True)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_clip_and_no_bias(tmp_path, kind):
    _check(tmp_path, kind, clip=0.3, with_bias=False)


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_gru_linear_before_reset(tmp_path, direction):
    _check(tmp_path, "GRU", linear_before_reset=1, direction=direction, lengths=[4, 3, 1])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_opset_7_reading(tmp_path, kind):
    _check(tmp_path, kind, opset=7, direction="bidirectional", lengths=[2, 4, 3], initial=True)


def test_relu_activation_fits_the_sequence_op(tmp_path):
    _check(tmp_path, "RNN", activations=["Relu"])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_dynamic_batch(tmp_path, kind):
    _check(tmp_path, kind, batch_dim="N", direction="bidirectional")


def test_dynamic_sequence_length(tmp_path):
    _check(tmp_path, "GRU", seq_dim="T")


# -- unrolled over time ------------------------------------------------------------------------
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_peepholes_unrolled(tmp_path, direction):
    _check(tmp_path, "LSTM", unrolled=True, peepholes=True, direction=direction,
           lengths=[4, 2, 3], initial=True, clip=0.8)


def test_lstm_input_forget_unrolled(tmp_path):
    _check(tmp_path, "LSTM", unrolled=True, input_forget=1, lengths=[4, 1, 3])


def test_lstm_peepholes_of_zeros_keep_the_sequence_op(tmp_path):
    model, feeds = _layer_model("LSTM", peepholes=True)
    peephole = next(t for t in model.graph.initializer if t.name == "P")
    peephole.CopyFrom(onnx.numpy_helper.from_array(np.zeros((1, 15), np.float32), "P"))
    xml = convert_and_compare(model, tmp_path, feeds=feeds, rtol=1e-4, atol=1e-5)
    assert "LSTMSequence" in ir_layer_types(xml)


@pytest.mark.parametrize("activations,alpha,beta", [
    (["HardSigmoid", "Softsign"], [0.3], [0.4]),
    (["Sigmoid", "Elu"], [0.7], []),
    (["Affine", "ScaledTanh"], [0.5, 1.5], [0.1, 0.8]),
])
def test_gru_other_activations_unrolled(tmp_path, activations, alpha, beta):
    given = {"activation_alpha": alpha} | ({"activation_beta": beta} if beta else {})
    _check(tmp_path, "GRU", unrolled=True, activations=activations, lengths=[4, 3, 2],
           linear_before_reset=1, **given)


@pytest.mark.parametrize("activation,alpha", [("LeakyRelu", None), ("ThresholdedRelu", 0.4),
                                              ("Softplus", None)])
def test_rnn_other_activations_unrolled(tmp_path, activation, alpha):
    given = {} if alpha is None else {"activation_alpha": [alpha]}
    _check(tmp_path, "RNN", unrolled=True, activations=[activation], direction="reverse",
           initial=True, **given)


def test_directions_with_different_activations_unrolled(tmp_path):
    _check(tmp_path, "RNN", unrolled=True, direction="bidirectional",
           activations=["Tanh", "Sigmoid"])


def test_unrolling_needs_a_static_sequence_length(tmp_path):
    model, _ = _layer_model("LSTM", peepholes=True, seq_dim="T")
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ConversionError) as info:
        convert(path, output_dir=tmp_path / "ir", model_name="model")
    message = str(info.value)
    assert "static sequence length" in message and "peepholes" in message
    assert "layer" in message and "LSTM" in message


def test_unknown_activation_is_named(tmp_path):
    model, _ = _layer_model("RNN", activations=["Swishy"])
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ConversionError, match="Swishy"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")
