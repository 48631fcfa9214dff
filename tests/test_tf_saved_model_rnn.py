"""Keras recurrent SavedModels (LSTM, GRU, SimpleRNN, Bidirectional LSTM) read by our own
SavedModel reader, without the TensorFlow fallback.

Their loop body is a function of the graph's library that reads the cell's kernels through
resource arguments of the While; the reader passes each frozen value into the loop instead
(`functions.ResourceBinder`). Conversion runs in a fresh interpreter in which `import
tensorflow` fails, so a fallback could not go unnoticed; the log is checked too. The IRs are
compared with the Keras models themselves (FP32, within 1e-4 of each output's range)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from converter import convert
from converter.frontends.tf.saved_model import UnsupportedSavedModel, read_saved_model
from modelzoo.runtime import run_openvino
from tf_support import convert_without_tensorflow

STEPS, FEATURES, UNITS = 5, 4, 3
TOLERANCE = 1e-4

# (id, layer factory, sigmoids and tanhs per time step of the unrolled IR)
LAYERS = [
    ("lstm", lambda L: L.LSTM(UNITS, return_sequences=True), (3 * STEPS, 2 * STEPS)),
    ("gru", lambda L: L.GRU(UNITS), (2 * STEPS, STEPS)),
    ("simple_rnn", lambda L: L.SimpleRNN(UNITS), (0, STEPS)),
    ("bidirectional_lstm", lambda L: L.Bidirectional(L.LSTM(UNITS, return_sequences=True)),
     (6 * STEPS, 4 * STEPS)),
]
EXPORTS = ["saved_model_save", "model_export"]




@pytest.fixture(scope="module")
def models(tf, tmp_path_factory):
    """Every layer of LAYERS in a seeded Sequential, written both ways Keras 3 offers;
    (id, export) -> (folder, model)."""
    keras = tf.keras
    root = tmp_path_factory.mktemp("rnn")
    built = {}
    for name, make, _ in LAYERS:
        keras.utils.set_random_seed(7)
        model = keras.Sequential([keras.Input((STEPS, FEATURES)), make(keras.layers)])
        tf.saved_model.save(model, str(root / f"{name}_saved"))
        model.export(str(root / f"{name}_exported"), verbose=False)
        built[name, "saved_model_save"] = (root / f"{name}_saved", model)
        built[name, "model_export"] = (root / f"{name}_exported", model)
    return built


@pytest.fixture(scope="module")
def converted(models, tmp_path_factory):
    """Every model converted in one interpreter that cannot import TensorFlow."""
    out = tmp_path_factory.mktemp("rnn_ir")
    jobs = {str(out / folder.name): {"saved_model_dir": str(folder)} for folder, _ in models.values()}
    reports = convert_without_tensorflow(jobs)
    return {jobs[output]["saved_model_dir"]: report for output, report in reports.items()}


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("name, per_model", [c[::2] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_recurrent_saved_model_converts_without_fallback(models, converted, name, per_model,
                                                        export):
    folder, model = models[name, export]
    report = converted[str(folder)]
    assert not report["xml"].startswith("failed"), report["xml"]
    assert not [line for line in report["log"] if "through TensorFlow" in line], report["log"]
    x = np.random.default_rng(1).uniform(-1, 1, (2, STEPS, FEATURES)).astype(np.float32)
    expected = model(x).numpy()
    (input_tensor,) = read_saved_model(folder).inputs.values()
    outputs = run_openvino(report["xml"], {input_tensor.split(":")[0]: x})
    actual = outputs["output_0"]
    assert actual.shape == expected.shape
    error = np.abs(actual - expected).max() / np.ptp(expected)
    assert error <= TOLERANCE, error
    xml = Path(report["xml"]).read_text()
    sigmoids, tanhs = per_model
    assert xml.count('type="Sigmoid"') == sigmoids and xml.count('type="Tanh"') == tanhs


def test_frozen_graph_keeps_no_variable_read(models):
    """The loop body the graph keeps reads the kernels as values: no ReadVariableOp and no
    resource argument is left in any function the frozen graph uses."""
    folder, _ = models["bidirectional_lstm", "model_export"]
    graph_def = read_saved_model(folder).graph_def
    functions = list(graph_def.library.function)
    assert len(functions) == 4  # cond and body of each direction's loop
    assert not [node.name for function in functions for node in function.node_def
                if node.op in ("ReadVariableOp", "ResourceGather", "VarHandleOp")]
    assert not [arg.name for function in functions for arg in function.signature.input_arg
                if arg.type == 20]  # DT_RESOURCE
    whiles = [node for node in graph_def.node if node.op in ("While", "StatelessWhile")]
    assert len(whiles) == 2 and all(20 not in node.attr["T"].list.type for node in whiles)


def test_variable_gathered_in_a_loop_body(tf, tmp_path):
    """An embedding table gathered inside the loop (ResourceGather) becomes a GatherV2 of
    its value."""
    class Module(tf.Module):
        def __init__(self):
            self.table = tf.Variable(np.arange(12, dtype=np.float32).reshape(6, 2))

        @tf.function(input_signature=[tf.TensorSpec([3], tf.int32)])
        def serve(self, ids):
            def body(i, total):
                return i + 1, total + tf.gather(self.table, ids[i])

            return tf.while_loop(lambda i, t: i < 3, body, (0, tf.zeros([2])))[1]

    module = Module()
    tf.saved_model.save(module, str(tmp_path / "gather"), signatures=module.serve)
    frozen = read_saved_model(tmp_path / "gather")
    ops = {node.op for function in frozen.graph_def.library.function
           for node in function.node_def}
    assert "GatherV2" in ops and "ResourceGather" not in ops
    xml = convert(output_dir=tmp_path / "ir", model_name="m",
                  saved_model_dir=str(tmp_path / "gather"))
    ids = np.array([5, 0, 3], np.int32)
    (input_tensor,) = frozen.inputs.values()
    (actual,) = {id(v): v for v in run_openvino(xml, {input_tensor.split(":")[0]: ids})
                 .values()}.values()
    np.testing.assert_allclose(actual, module.serve(ids).numpy(), rtol=1e-6)


def test_variable_assigned_in_a_loop_body_is_refused_for_the_fallback(tf, tmp_path):
    """An assignment is state: the reader refuses it (the frontend then freezes through
    TensorFlow), naming the op and the function."""
    class Module(tf.Module):
        def __init__(self):
            self.v = tf.Variable(1.0)

        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
        def serve(self, x):
            def body(i, y):
                self.v.assign(y[0])
                return i + 1, y * self.v

            return tf.while_loop(lambda i, y: i < 2, body, (0, x))[1]

    module = Module()
    tf.saved_model.save(module, str(tmp_path / "assign"), signatures=module.serve)
    with pytest.raises(UnsupportedSavedModel, match=r"function .*: AssignVariableOp node"):
        read_saved_model(tmp_path / "assign")
