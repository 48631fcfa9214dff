"""The TensorFlow models of the local demo zoo, built in a process of their own.

TensorFlow and Keras name layers, functions and graph nodes from process-wide counters, so
the same model built twice in one process comes out with different names (and bytes).
`modelzoo.localzoo` therefore runs `python -m modelzoo.localzoo_tf STAGING SEED` in a fresh
interpreter for every build; nothing else should import this module.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

MOBILENET_DIR, SAVED_MODEL_DIR, CHECKPOINT_DIR = "mobilenet_v2_0.35_96", "small_cnn", "tf1_cnn"


@contextlib.contextmanager
def _fused_batch_norm():
    """Make Keras 3 lower BatchNormalization to FusedBatchNormV3, as TF1-era models hold it.

    Keras 3 spells inference-time batch norm as Rsqrt/Mul/Sub arithmetic; a classic frozen
    CNN has one FusedBatchNormV3 per layer, which is what the zoo should exercise.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import nn as keras_tf_nn

    original = keras_tf_nn.batch_normalization

    def fused(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
        if x.shape.rank != 4 or axis not in (-1, 3):
            return original(x, mean, variance, axis, offset, scale, epsilon)
        scale = tf.ones_like(mean) if scale is None else scale
        offset = tf.zeros_like(mean) if offset is None else offset
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, mean, variance, epsilon,
                                                   data_format="NHWC", is_training=False)
        return y

    keras_tf_nn.batch_normalization = fused
    try:
        yield
    finally:
        keras_tf_nn.batch_normalization = original


def _randomize_batch_norms(model, rng: np.random.Generator) -> None:
    """Fresh Keras batch norms are the identity; give them seeded statistics worth converting."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n),
                               rng.normal(0, 0.1, n), rng.uniform(0.5, 1.5, n)])


def frozen_graph_def(function, spec):
    """`function` at `spec` as a GraphDef with its variables as constants (also used by bench/)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(function.get_concrete_function(spec))
    graph_def = frozen.graph.as_graph_def()
    # Drop the NoOp a tf.function leaves behind and the control edges that hang on it.
    kept = [node for node in graph_def.node if node.op != "NoOp"]
    del graph_def.node[:]
    for node in kept:
        inputs = [name for name in node.input if not name.startswith("^")]
        del node.input[:]
        node.input.extend(inputs)
        graph_def.node.append(node)
    return graph_def


def build_mobilenet(out_dir: Path, seed: int) -> None:
    """(c) Keras MobileNetV2 alpha 0.35 at 96x96, random weights, frozen to a GraphDef."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None)
    _randomize_batch_norms(model, np.random.default_rng(seed))
    with _fused_batch_norm():
        graph_def = frozen_graph_def(tf.function(lambda x: model(x, training=False)),
                                      tf.TensorSpec([1, 96, 96, 3], tf.float32, name="input"))
    (out_dir / MOBILENET_DIR).mkdir(parents=True)
    # Protobuf writes map fields (node attributes) in hash order unless told otherwise.
    data = graph_def.SerializeToString(deterministic=True)
    (out_dir / MOBILENET_DIR / "frozen_graph.pb").write_bytes(data)


def build_saved_model(out_dir: Path, seed: int) -> None:
    """(d) A small Keras CNN exported as a TF2 SavedModel with a `serving_default` signature."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed + 1)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        layers.AveragePooling2D(2, name="pool2"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(10, activation="softmax", name="prob"),
    ], name="small_cnn")

    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32, name="input")])
        def serve(self, x):
            return {"prob": self.model(x, training=False)}

    module = Serving()
    tf.saved_model.save(module, str(out_dir / SAVED_MODEL_DIR),
                        signatures={"serving_default": module.serve})
    # The fingerprint holds a random id; converters do not need it.
    (out_dir / SAVED_MODEL_DIR / "fingerprint.pb").unlink(missing_ok=True)


def build_checkpoint(out_dir: Path, seed: int) -> None:
    """(e) A TF1 graph of placeholders and variables, saved as a checkpoint plus meta graph."""
    import tensorflow as tf

    rng = np.random.default_rng(seed + 2)
    v1 = tf.compat.v1

    def variable(name, shape, std):
        return v1.Variable(rng.normal(0, std, shape).astype(np.float32), name=name)

    with tf.Graph().as_default() as graph:
        x = v1.placeholder(tf.float32, [1, 28, 28, 1], name="input")
        conv = tf.nn.conv2d(x, variable("conv/kernel", [5, 5, 1, 16], 0.3), [1, 1, 1, 1], "SAME")
        hidden = tf.nn.relu(tf.nn.bias_add(conv, variable("conv/bias", [16], 0.1)))
        pooled = tf.reduce_mean(hidden, axis=[1, 2], name="global_pool")
        logits = tf.nn.bias_add(tf.matmul(pooled, variable("fc/weights", [16, 10], 0.5)),
                                variable("fc/bias", [10], 0.1))
        tf.nn.softmax(logits, name="prob")
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            (out_dir / CHECKPOINT_DIR).mkdir(parents=True)
            saver.save(session, str(out_dir / CHECKPOINT_DIR / "model.ckpt"), write_state=False)


def main(argv: list[str]) -> int:
    out_dir, seed = Path(argv[0]), int(argv[1])
    build_mobilenet(out_dir, seed)
    build_saved_model(out_dir, seed)
    build_checkpoint(out_dir, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
