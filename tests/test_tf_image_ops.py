"""ResizeBilinear and ResizeNearestNeighbor against TensorFlow, in every align_corners /
half_pixel_centers combination TensorFlow accepts, up and down, and with a run-time size."""
from __future__ import annotations

import numpy as np
import pytest

from converter import UserInputError, convert
from tf_support import check_graph, graph_def_of, random


FLAGS = [(False, False), (True, False), (False, True)]
SIZES = [(9, 13), (3, 2), (5, 5)]  # up, down, mixed (from 5 x 7)


@pytest.mark.parametrize("op", ["ResizeBilinear", "ResizeNearestNeighbor"])
@pytest.mark.parametrize("align_corners,half_pixel", FLAGS,
                         ids=["asymmetric", "align_corners", "half_pixel"])
@pytest.mark.parametrize("size", SIZES, ids=["up", "down", "mixed"])
def test_resize_matches_tensorflow(tf, tmp_path, op, align_corners, half_pixel, size):
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [2, 5, 7, 3], name="x")
        y = getattr(tf.raw_ops, op)(images=x, size=list(size), align_corners=align_corners,
                                    half_pixel_centers=half_pixel)
        return tf.identity(y, name="y")

    check_graph(tf, tmp_path, graph, {"x": random([2, 5, 7, 3], seed=5)}, atol=1e-5)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_resize_to_a_run_time_size(tf, tmp_path, method):
    """tf.image.resize of an input of run-time size to twice its size (TF2's resize sets
    half_pixel_centers)."""
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [1, None, None, 2], name="x")
        return tf.identity(tf.image.resize(x, tf.shape(x)[1:3] * 2, method=method), name="y")

    check_graph(tf, tmp_path, graph, {"x": random([1, 4, 6, 2], seed=6)}, atol=1e-5)


def test_resize_of_integer_images_is_float(tf, tmp_path):
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.uint8, [1, 4, 4, 3], name="x")
        return tf.identity(tf.compat.v1.image.resize_bilinear(x, [6, 7]), name="y")

    image = np.random.default_rng(0).integers(0, 255, (1, 4, 4, 3)).astype(np.uint8)
    check_graph(tf, tmp_path, graph, {"x": image}, atol=1e-4)


def test_align_corners_with_half_pixel_is_rejected(tf, tmp_path):
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [1, 4, 4, 3], name="x")
        y = tf.raw_ops.ResizeBilinear(images=x, size=[8, 8], align_corners=True,
                                      half_pixel_centers=True)
        return tf.identity(y, name="y")

    data, _ = graph_def_of(tf, graph)
    (tmp_path / "m.pb").write_bytes(data)
    with pytest.raises(UserInputError, match="align_corners and half_pixel_centers"):
        convert(tmp_path / "m.pb", tmp_path / "ir", "m")


def boxes_and_scores(count: int = 12, seed: int = 0):
    """Boxes that overlap in clusters, some given with their corners the other way round."""
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 1, (count, 2)).astype(np.float32)
    sizes = rng.uniform(0.1, 0.4, (count, 2)).astype(np.float32)
    boxes = np.concatenate([corners, corners + sizes], axis=1)
    boxes[::3] = boxes[::3][:, [2, 3, 0, 1]]  # (y2, x2, y1, x1): any diagonal pair is a box
    scores = rng.permutation(np.linspace(0.05, 0.95, count)).astype(np.float32)
    return boxes, scores


NMS_CASES = {
    "v2": lambda tf, b, s: tf.raw_ops.NonMaxSuppressionV2(
        boxes=b, scores=s, max_output_size=5, iou_threshold=0.3),
    "v3_score_threshold": lambda tf, b, s: tf.raw_ops.NonMaxSuppressionV3(
        boxes=b, scores=s, max_output_size=10, iou_threshold=0.2, score_threshold=0.4),
    "v4_padded": lambda tf, b, s: list(tf.raw_ops.NonMaxSuppressionV4(
        boxes=b, scores=s, max_output_size=10, iou_threshold=0.2, score_threshold=0.5,
        pad_to_max_output_size=True)),
    "v4_unpadded": lambda tf, b, s: list(tf.raw_ops.NonMaxSuppressionV4(
        boxes=b, scores=s, max_output_size=4, iou_threshold=0.4, score_threshold=0.0)),
    "v5_padded": lambda tf, b, s: list(tf.raw_ops.NonMaxSuppressionV5(
        boxes=b, scores=s, max_output_size=8, iou_threshold=0.3, score_threshold=0.1,
        soft_nms_sigma=0.0, pad_to_max_output_size=True)),
    "v5_soft": lambda tf, b, s: list(tf.raw_ops.NonMaxSuppressionV5(
        boxes=b, scores=s, max_output_size=6, iou_threshold=1.0, score_threshold=0.3,
        soft_nms_sigma=0.5)),
}


@pytest.mark.parametrize("case", sorted(NMS_CASES))
def test_non_max_suppression_matches_tensorflow(tf, tmp_path, case):
    boxes, scores = boxes_and_scores()

    def graph(tf):
        b = tf.compat.v1.placeholder(tf.float32, [None, 4], name="boxes")
        s = tf.compat.v1.placeholder(tf.float32, [None], name="scores")
        outputs = NMS_CASES[case](tf, b, s)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        return [tf.identity(o, name=f"y{i}") for i, o in enumerate(outputs)]

    check_graph(tf, tmp_path, graph, {"boxes": boxes, "scores": scores}, atol=1e-5)


def test_keras_decoder_layers(tf, tmp_path):
    """Conv2DTranspose and bilinear UpSampling2D as Keras writes them, with a dynamic batch."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    from tf_support import compare

    tf.keras.utils.set_random_seed(0)
    layers = tf.keras.layers
    inputs = tf.keras.Input((5, 6, 3))
    y = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(inputs)
    y = layers.Conv2DTranspose(2, 2, strides=2, padding="valid")(y)
    y = layers.UpSampling2D(2, interpolation="bilinear")(y)
    model = tf.keras.Model(inputs, y)
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((None, 5, 6, 3), tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(function)
    pb = tmp_path / "decoder.pb"
    pb.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    xml = compare(tmp_path, pb, {"x": random([2, 5, 6, 3], seed=8)}, [frozen.outputs[0].name],
                  atol=1e-4)
    text = xml.read_text()
    assert text.count('type="ConvolutionBackpropData"') == 2 and 'type="Interpolate"' in text
