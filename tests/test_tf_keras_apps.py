"""Every Keras application, frozen to a GraphDef and saved as a SavedModel, converted and run in
OpenVINO against TensorFlow.

Each model is built with `weights=None` from a fixed seed at the smallest input size its
architecture accepts, with batch norms given statistics of a calibration batch (fresh Keras
batch norms are the identity, and a deep stack of random layers lets activations vanish or
explode, which would make any comparison meaningless). The test image is a structured
picture in 0..255, put through the application's own `preprocess_input` (or fed raw to the
models that carry their own preprocessing layers), and the logits (`classifier_activation=None`)
are compared, so that a saturated softmax cannot hide an error: FP32 within 1e-4 of the
output's range, FP16 IR within 1e-2.

Each application is built once and written both ways: the frozen graph, and the SavedModel
`tf.saved_model.save` writes (with fingerprint.pb), which our own reader must freeze without
falling back to TensorFlow.
"""
from __future__ import annotations

import logging
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from converter import convert
from modelzoo.runtime import run_openvino
from modelzoo.verify.inputs import structured_image
from tf_support import check_graph, feeds_for, random

CLASSES = 10
SEED = 0

# name -> (smallest size accepted with weights=None, module of its preprocess_input or None
# when the model preprocesses 0..255 pixels itself).
APPLICATIONS = {
    "MobileNet": (32, "mobilenet"),
    "MobileNetV2": (32, "mobilenet_v2"),
    "MobileNetV3Small": (32, None),
    "MobileNetV3Large": (32, None),
    "ResNet50": (32, "resnet"),
    "ResNet101": (32, "resnet"),
    "ResNet152": (32, "resnet"),
    "ResNet50V2": (32, "resnet_v2"),
    "ResNet101V2": (32, "resnet_v2"),
    "ResNet152V2": (32, "resnet_v2"),
    **{f"EfficientNetB{i}": (32, None) for i in range(8)},
    **{f"EfficientNetV2B{i}": (32, None) for i in range(4)},
    "EfficientNetV2S": (32, None),
    "InceptionV3": (75, "inception_v3"),
    "InceptionResNetV2": (75, "inception_resnet_v2"),
    "DenseNet121": (32, "densenet"),
    "DenseNet169": (32, "densenet"),
    "DenseNet201": (32, "densenet"),
    "Xception": (71, "xception"),
    "NASNetMobile": (32, "nasnet"),
    "NASNetLarge": (32, "nasnet"),
    "VGG16": (32, "vgg16"),
    "VGG19": (32, "vgg19"),
    "ConvNeXtTiny": (32, None),
}

FP32_TOLERANCE = 1e-4
FP16_TOLERANCE = 1e-2


def structured_picture(size: int, seed: int, batch: int = 1) -> np.ndarray:
    return structured_image(np.random.default_rng(seed), (batch, size, size, 3), -1, 0.0, 255.0,
                            np.float32)


def preprocessed(keras, module: str | None, pixels: np.ndarray) -> np.ndarray:
    """What the application expects: its own preprocess_input of the pixels, or the pixels."""
    if module is None:
        return pixels
    preprocess = getattr(keras.applications, module).preprocess_input
    return np.asarray(preprocess(pixels.copy()), dtype=np.float32)


def calibrate_batch_norms(keras, model, batch: np.ndarray, rng: np.random.Generator) -> None:
    """Seeded scales and shifts, and moving statistics taken from one training-mode pass over
    `batch` (momentum 0 makes the moving statistics that batch's own): every layer then sees
    activations of a sensible size, as in a trained network. Each variance is then raised by
    its layer's mean variance: a channel that hardly varied over the few calibration pictures
    would otherwise be scaled up hugely, and the network become so sensitive that rounding
    its weights to float16 moves the logits by 5 % of their range (MobileNetV2; 5e-4 so)."""
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        n = layer.moving_mean.shape[0]
        if layer.gamma is not None:
            layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype(np.float32))
        if layer.beta is not None:
            layer.beta.assign(rng.normal(0.0, 0.1, n).astype(np.float32))
        layer.momentum = 0.0
    model(batch, training=True)
    for layer in norms:
        variance = layer.moving_variance.numpy()
        layer.moving_variance.assign(variance + variance.mean())


def frozen_graph(tf, model, size: int):
    """The model's inference graph with its variables as constants, and its output's name.

    This is what `convert_variables_to_constants_v2` does, without the ConcreteFunction it
    then rebuilds from the GraphDef (import, prune, lift: most of its time on a deep model,
    and a first call of it costs as much again); TensorFlow's reference runs the model eagerly.
    A TensorFlow without that inner step freezes through the public function."""
    from tensorflow.python.framework import convert_to_constants as freezing

    function = tf.function(lambda x: model(x, training=False))
    spec = tf.TensorSpec([1, size, size, 3], tf.float32, name="input")
    concrete = function.get_concrete_function(spec)
    (output,) = concrete.outputs
    try:
        converter_data = freezing._FunctionConverterDataInEager(
            func=concrete, lower_control_flow=True, aggressive_inlining=False)
        graph_def, _ = freezing._replace_variables_by_constants(converter_data=converter_data)
    except (AttributeError, TypeError):
        graph_def = freezing.convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    # what the output needs, as the rebuilt function would keep (Keras' swish leaves a side
    # Identity per activation, which would otherwise be outputs of the graph)
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, [output.op.name])
    return graph_def, output.name


def convolutions_in_graph(graph_def) -> int:
    """Conv2D and DepthwiseConv2dNative nodes, in the graph and in its functions' bodies."""
    nodes = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    return sum(node.op in ("Conv2D", "DepthwiseConv2dNative") for node in nodes)


def ir_op_counts(xml) -> Counter:
    return Counter(layer.get("type") for layer in ElementTree.parse(xml).getroot().iter("layer"))


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    spread = float(expected.max() - expected.min())
    return float(np.abs(actual - expected).max()) / spread


@dataclass
class BuiltApplication:
    """One application as the tests convert it: its frozen graph and its SavedModel on disk,
    the test image and TensorFlow's logits for it."""

    name: str
    folder: Path
    frozen_pb: Path
    frozen_output: str           # the frozen graph's output tensor (`Identity:0`)
    saved_model: Path
    image: np.ndarray
    expected: np.ndarray
    convolutions: int            # Conv2D and DepthwiseConv2dNative nodes of the frozen graph


def calibrated_application(tf, name: str):
    """The Keras application `name` built from the seed, its batch norms calibrated."""
    keras = tf.keras
    size, module = APPLICATIONS[name]
    keras.utils.set_random_seed(SEED)
    model = getattr(keras.applications, name)(
        input_shape=(size, size, 3), weights=None, classes=CLASSES, classifier_activation=None)
    calibration = preprocessed(keras, module, structured_picture(size, SEED + 1, batch=4))
    calibrate_batch_norms(keras, model, calibration, np.random.default_rng(SEED))
    return model


def build_application(tf, name: str, folder: Path) -> BuiltApplication:
    """Build the application, write it both ways, and run TensorFlow on the test image; the
    Keras model is dropped before returning (the deep ones hold hundreds of MB)."""
    keras = tf.keras
    size, module = APPLICATIONS[name]
    model = calibrated_application(tf, name)
    graph_def, output_name = frozen_graph(tf, model, size)
    folder.mkdir(parents=True)
    pb = folder / f"{name}.pb"
    pb.write_bytes(graph_def.SerializeToString())
    saved_model = folder / "saved_model"
    tf.saved_model.save(model, str(saved_model))  # what a user of current TF writes
    image = preprocessed(keras, module, structured_picture(size, SEED))
    expected = np.asarray(model(image, training=False))
    del model
    assert np.isfinite(expected).all() and expected.max() > expected.min(), expected
    keras.backend.clear_session()  # frees the model's graph (and collects garbage)
    return BuiltApplication(name, folder, pb, output_name, saved_model, image, expected,
                            convolutions_in_graph(graph_def))


@pytest.fixture(scope="module")
def built_applications(tf, tmp_path_factory):
    """`get(name)`: the application built once for both of its tests (building is the
    expensive part); only the latest one is kept on disk, as the tests run name by name."""
    root = tmp_path_factory.mktemp("keras_apps")
    latest: dict[str, BuiltApplication] = {}

    def get(name: str) -> BuiltApplication:
        if name not in latest:
            for previous in latest.values():
                shutil.rmtree(previous.folder, ignore_errors=True)
            latest.clear()
            latest[name] = build_application(tf, name, root / name)
        return latest[name]

    return get


def convert_frozen(app: BuiltApplication, output_dir: Path, precision: str) -> Path:
    return convert(app.frozen_pb, output_dir, app.name, data_type=precision)


def convert_saved_model(app: BuiltApplication, output_dir: Path, precision: str) -> Path:
    return convert(output_dir=output_dir, model_name=app.name, data_type=precision,
                   saved_model_dir=str(app.saved_model))


# How each source is converted, and the names the IR's input and output then have: the frozen
# graph's placeholder and output tensor, or the SavedModel's serving signature's names (those
# `tf.saved_model.save` gives a Keras model's default signature).
SOURCES = {
    "frozen": (convert_frozen, "input", lambda app: app.frozen_output),
    "saved_model": (convert_saved_model, "inputs", lambda app: "output_0"),
}


def tensorflow_fallbacks(records) -> list[str]:
    """The log lines that say the SavedModel was frozen through TensorFlow, not our reader."""
    return [r.getMessage() for r in records if "through TensorFlow" in r.getMessage()]


# `source` varies fastest, so each application is built once for its two tests.
@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("name", list(APPLICATIONS))
def test_keras_application(built_applications, tmp_path, caplog, name, source):
    app = built_applications(name)
    convert_source, input_name, output_of = SOURCES[source]
    output_name = output_of(app)
    feeds = feeds_for({input_name: app.image})
    for precision, tolerance in (("FP32", FP32_TOLERANCE), ("FP16", FP16_TOLERANCE)):
        with caplog.at_level(logging.WARNING, logger="converter"):
            xml = convert_source(app, tmp_path / precision, precision)
        fallbacks = tensorflow_fallbacks(caplog.records)
        assert not fallbacks, f"{name} {source}: our reader fell back to TensorFlow: {fallbacks}"
        outputs = run_openvino(xml, feeds)
        assert output_name in outputs, f"{name} {source}: no output {output_name}: {sorted(outputs)}"
        actual = outputs[output_name]
        assert actual.shape == app.expected.shape == (1, CLASSES)
        error = relative_error(actual, app.expected)
        assert error <= tolerance, \
            f"{name} {source} {precision}: error {error:.2e} of the output's range"
        if precision == "FP32":  # compression to FP16 changes no op
            ops = ir_op_counts(xml)
            # one IR convolution per TF convolution: none decomposed, none lost
            assert ops["Convolution"] + ops["GroupConvolution"] == app.convolutions, ops
            assert ops["Result"] == 1 and ops["Parameter"] == 1, ops


# The ops these applications brought in, each on a graph of its own.

def test_grouped_conv2d(tf, tmp_path):
    """A Conv2D whose filter has fewer input channels than its data (Keras 3's `groups`):
    one GroupConvolution, as ConvNeXt's 7x7 depthwise convolutions need."""
    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 6], name="x")
        filters = tf.constant(random((3, 3, 2, 9), 1))  # 3 groups of 2 channels in, 3 out
        return tf.nn.conv2d(x, filters, strides=[1, 2, 2, 1], padding="SAME", name="y")

    xml = check_graph(tf, tmp_path, build, {"x": random((1, 9, 9, 6), 2)}, atol=1e-4)
    ops = ir_op_counts(xml)
    assert ops["GroupConvolution"] == 1 and ops["Convolution"] == 0, ops


def test_erf_and_erfc(tf, tmp_path):
    """Keras' exact GELU: 0.5 * x * erfc(-x / sqrt(2)); erf alone too."""
    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, [2, 5], name="x")
        return [tf.math.erfc(x, name="erfc"), tf.math.erf(x, name="erf")]

    check_graph(tf, tmp_path, build, {"x": 2 * random((2, 5), 3)}, atol=1e-6)


def test_saved_model_capturing_constants_and_tensors(tf, tmp_path, caplog):
    """What the EfficientNet and ConvNeXt SavedModels hold, on a small model: constants the
    serving function captures (a Normalization layer's mean and variance, fed to it from
    Consts of the main graph) and tensors captured for swish's gradient (`captured_tensor`
    objects, after the checkpoint's objects in the SavedModel's object graph). Our reader
    freezes them without TensorFlow."""
    keras = tf.keras
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((6, 6, 3))
    y = keras.layers.Normalization(mean=[10.0, 20.0, 30.0], variance=[4.0, 9.0, 16.0])(inputs)
    y = keras.layers.Conv2D(4, 3, activation="swish")(y)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(y))
    tf.saved_model.save(model, str(tmp_path / "saved"))
    image = structured_picture(6, SEED)
    with caplog.at_level(logging.WARNING, logger="converter"):
        xml = convert(output_dir=tmp_path / "ir", model_name="m",
                      saved_model_dir=str(tmp_path / "saved"))
    assert not tensorflow_fallbacks(caplog.records)
    assert ir_op_counts(xml)["Parameter"] == 1  # no captured constant left as an input
    actual = run_openvino(xml, feeds_for({"inputs": image}))["output_0"]
    np.testing.assert_allclose(actual, model(image, training=False).numpy(), rtol=1e-5, atol=1e-5)
