"""Keras files (.keras, legacy .h5) in an archive: found by `prepare`, saved as a SavedModel,
and converted from it by our SavedModel reader to an IR that computes what the Keras model
computes."""
from __future__ import annotations

import numpy as np
import pytest

from converter import convert
from modelzoo.prepare import locate_model, prepare_model, read_prepared
from modelzoo.runtime import run_openvino


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    import tensorflow as tf

    keras = tf.keras
    keras.utils.set_random_seed(11)
    inputs = keras.Input((8, 8, 3), name="pixels")
    y = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    model = keras.Model(inputs, keras.layers.Dense(3)(y))
    root = tmp_path_factory.mktemp("keras_tree")
    (root / "a").mkdir()
    (root / "b").mkdir()
    model.save(root / "a" / "model.keras")
    model.save(root / "b" / "model.h5")
    image = np.random.default_rng(0).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    return root, image, model(image, training=False).numpy()


@pytest.mark.parametrize("folder,name", [("a", "model.keras"), ("b", "model.h5")])
def test_keras_file_is_prepared_and_converted(keras_files, tmp_path, caplog, folder, name):
    root, image, expected = keras_files
    tree = root / folder
    location = locate_model(tree, "m")
    assert (location.kind, location.path, location.framework) == ("keras", name, "tf")
    staging = tmp_path / "prepared"
    staging.mkdir()
    info = prepare_model(tree, location, (), staging)
    assert info["saved_model_dir"] == {"in": "prepared", "path": "saved_model"}
    prepared = read_prepared(staging, tree)
    assert (staging / "saved_model" / "saved_model.pb").is_file()
    xml = convert(None, tmp_path / "ir", "m", saved_model_dir=prepared["saved_model_dir"])
    assert "through TensorFlow" not in caplog.text, "our reader converts the exported SavedModel"
    outputs = run_openvino(xml, {name: image for name in ("pixels", "pixels:0")})
    results = {id(value): value for value in outputs.values()}
    assert len(results) == 1
    np.testing.assert_allclose(next(iter(results.values())), expected, rtol=1e-5, atol=1e-6)


def test_a_keras_file_among_other_models_is_taken_last(keras_files, tmp_path):
    root, _, _ = keras_files
    (tmp_path / "frozen.pb").write_bytes(b"")
    (tmp_path / "model.keras").write_bytes((root / "a" / "model.keras").read_bytes())
    assert locate_model(tmp_path, "m").kind == "frozen"
    assert locate_model(tmp_path, "m", model="model.keras").kind == "keras"
