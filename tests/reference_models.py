"""Small seeded models for the reference-runner tests, in every kind the verifier reads, all
computing the same two-layer perceptron: hidden = relu(x @ w1 + b1); y = hidden @ w2 + b2."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Weights with many values that float16 cannot hold exactly."""
    rng = np.random.default_rng(seed)
    return {"w1": rng.normal(0, 0.7, (4, 8)).astype(np.float32),
            "b1": rng.normal(0, 0.3, (8,)).astype(np.float32),
            "w2": rng.normal(0, 0.7, (8, 3)).astype(np.float32),
            "b2": rng.normal(0, 0.3, (3,)).astype(np.float32)}


def mlp_numpy(x: np.ndarray, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The expected values, computed in float64: {"hidden": ..., "y": ...}."""
    w = {name: value.astype(np.float64) for name, value in weights.items()}
    hidden = np.maximum(x.astype(np.float64) @ w["w1"] + w["b1"], 0.0)
    return {"hidden": hidden, "y": hidden @ w["w2"] + w["b2"]}


def fp16_rounded(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: value.astype(np.float16).astype(np.float32) for name, value in weights.items()}


def sample_input(rows: int = 5, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (rows, 4)).astype(np.float32)


# -- ONNX --------------------------------------------------------------------------------------
def write_onnx_mlp(path: Path, weights: dict[str, np.ndarray], ir_version: int = 14,
                   opset: int = 17) -> Path:
    """x: [batch, 4] (batch symbolic) -> y: [batch, 3]; b2 is a Constant node, the rest
    initializers, so that both kinds of weight are exercised."""
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["mm1"]),
        helper.make_node("Add", ["mm1", "b1"], ["pre"]),
        helper.make_node("Relu", ["pre"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "w2"], ["mm2"]),
        helper.make_node("Constant", [], ["b2"], value=numpy_helper.from_array(weights["b2"])),
        helper.make_node("Add", ["mm2", "b2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(weights[name], name) for name in ("w1", "b1", "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    onnx.save(model, str(path))
    return path


# -- TensorFlow --------------------------------------------------------------------------------
def mlp_graph(tf, weights: dict[str, np.ndarray], variables: bool = False):
    """The perceptron in the current tf.compat.v1 graph; Consts, or variables when asked."""
    v1 = tf.compat.v1
    x = v1.placeholder(tf.float32, [None, 4], name="x")
    make = (lambda name: v1.get_variable(name, initializer=weights[name])) if variables else (
        lambda name: tf.constant(weights[name], name=name))
    hidden = tf.nn.relu(tf.matmul(x, make("w1")) + make("b1"), name="hidden")
    return tf.add(tf.matmul(hidden, make("w2")), make("b2"), name="y")


def write_frozen_mlp(tf, path: Path, weights: dict[str, np.ndarray], text: bool = False) -> Path:
    with tf.Graph().as_default() as graph:
        mlp_graph(tf, weights)
    if text:
        path.write_text(str(graph.as_graph_def()))
    else:
        path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def write_cut_graph(tf, path: Path, weights: dict[str, np.ndarray]) -> Path:
    """A graph whose `features` (the perceptron's input, [batch, 4]) is computed by parsing
    strings that are not numbers: running it fails unless `features` is fed."""
    with tf.Graph().as_default() as graph:
        text = tf.compat.v1.placeholder(tf.string, [None, 4], name="text")
        parsed = tf.strings.to_number(tf.strings.join([text, "not a number"]), tf.float32)
        features = tf.identity(parsed, name="features")
        hidden = tf.nn.relu(tf.matmul(features, weights["w1"]) + weights["b1"], name="hidden")
        tf.add(tf.matmul(hidden, weights["w2"]), weights["b2"], name="y")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def write_checkpoint_mlp(tf, folder: Path, weights: dict[str, np.ndarray]) -> Path:
    """The perceptron with variables, saved by a v1 Saver; returns the .meta file."""
    with tf.Graph().as_default():
        mlp_graph(tf, weights, variables=True)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder / "model.ckpt"))
    return folder / "model.ckpt.meta"


def write_tf2_saved_model(tf, folder: Path, weights: dict[str, np.ndarray]) -> Path:
    """A tf.Module with variables, saved with a `serving_default` returning {"y", "hidden"}."""
    module = tf.Module()
    module.weights = {name: tf.Variable(value, name=name) for name, value in weights.items()}

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="features")])
    def serve(features):
        w = module.weights
        hidden = tf.nn.relu(tf.matmul(features, w["w1"]) + w["b1"])
        return {"y": tf.matmul(hidden, w["w2"]) + w["b2"], "hidden": hidden}

    module.serve = serve
    tf.saved_model.save(module, str(folder), signatures={"serving_default": serve})
    return folder


def write_v1_saved_model(tf, folder: Path, weights: dict[str, np.ndarray],
                         tags: list[str]) -> Path:
    """The perceptron with variables, saved by the v1 builder under `tags`; signature
    "predict" maps input "inputs" -> x:0 and output "scores" -> y:0."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        y = mlp_graph(tf, weights, variables=True)
        x = tf.compat.v1.get_default_graph().get_tensor_by_name("x:0")
        signature = v1.saved_model.signature_def_utils.predict_signature_def(
            inputs={"inputs": x}, outputs={"scores": y})
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(folder))
            builder.add_meta_graph_and_variables(session, tags,
                                                 signature_def_map={"predict": signature})
            builder.save()
    return folder
