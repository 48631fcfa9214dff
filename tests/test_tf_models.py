"""Whole models through the TensorFlow frontend: a Keras MobileNetV2 frozen to a GraphDef,
a Keras SavedModel, and a tf.compat.v1 checkpoint with its meta graph."""
from __future__ import annotations

import numpy as np

from converter import convert
from converter.frontends.tf.freeze import freeze_checkpoint, freeze_saved_model
from modelzoo.runtime import run_openvino, run_tf_graph
from tf_support import compare, feeds_for, random


def frozen_keras(tf, model, shape):
    """The GraphDef of `model` (inference mode) with its variables turned into constants."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(concrete)
    return frozen.graph.as_graph_def(), frozen.outputs[0].name


def small_keras(tf):
    keras = tf.keras
    keras.utils.set_random_seed(3)
    inputs = keras.Input((12, 12, 3), name="image")
    y = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(inputs)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.MaxPooling2D()(y)
    y = keras.layers.Flatten()(y)
    outputs = keras.layers.Dense(5, activation="softmax", name="probs")(y)
    return keras.Model(inputs, outputs)


def test_keras_mobilenet_v2(tf, tmp_path):
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35,
                                              weights=None, classes=10)
    graph_def, output = frozen_keras(tf, model, [1, 96, 96, 3])
    pb = tmp_path / "mobilenet.pb"
    pb.write_bytes(graph_def.SerializeToString())
    feeds = {"x": np.random.default_rng(1).uniform(-1, 1, (1, 96, 96, 3)).astype(np.float32)}
    compare(tmp_path, pb, feeds, [output], atol=1e-5)


def test_saved_model(tf, tmp_path):
    model = small_keras(tf)
    folder = tmp_path / "saved"
    tf.saved_model.save(model, str(folder))
    image = random((1, 12, 12, 3), 4)
    expected = model(image, training=False).numpy()
    frozen = freeze_saved_model(folder)
    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    (name,) = signature.structured_outputs
    assert bytes(frozen) == frozen.graph_def and list(frozen.outputs) == [name]
    for flags in ({"input_model": folder}, {"saved_model_dir": str(folder)}):
        xml = convert(output_dir=tmp_path / "ir", model_name="saved", **flags)
        feeds = {name.split(":")[0]: image for name in frozen.inputs.values()}
        outputs = run_openvino(xml, feeds_for(feeds))
        assert {name, frozen.outputs[name]} <= set(outputs)
        np.testing.assert_allclose(outputs[name], expected, rtol=1e-5, atol=1e-6)


def write_checkpoint(tf, folder):
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        weights = v1.get_variable("w", initializer=random((4, 3), 5))
        bias = v1.get_variable("b", initializer=random((3,), 6))
        v1.nn.tanh(tf.matmul(x, weights) + bias, name="y")
        session.run(v1.global_variables_initializer())
        saver = v1.train.Saver()
        prefix = saver.save(session, str(folder / "model.ckpt"))
    return folder / "model.ckpt.meta", prefix


def test_checkpoint_with_meta_graph(tf, tmp_path):
    meta, prefix = write_checkpoint(tf, tmp_path)
    frozen = freeze_checkpoint(meta, prefix)
    assert frozen.outputs == {"y": "y:0"} and frozen.inputs == {"x": "x:0"}
    pb = tmp_path / "frozen.pb"
    pb.write_bytes(bytes(frozen))
    feeds = {"x": random((2, 4), 7)}
    expected = run_tf_graph(pb, {"x:0": feeds["x"]}, ["y:0"])["y:0"]
    xml = convert(None, tmp_path / "ir", "ckpt", input_meta_graph=str(meta),
                  input_checkpoint=prefix, batch=2)
    np.testing.assert_allclose(run_openvino(xml, feeds_for(feeds))["y"], expected, rtol=1e-5,
                               atol=1e-6)
