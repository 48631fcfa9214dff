"""Each TensorFlow op handler against TensorFlow itself: a tiny tf.compat.v1 graph per case,
converted from its GraphDef, run in OpenVINO and in TensorFlow, compared tightly."""
from __future__ import annotations

import numpy as np
import pytest

from tf_support import check_graph, const, placeholder, random


def conv(padding, strides=1, dilations=1):
    return lambda tf, x: tf.nn.conv2d(x, const(tf, (3, 3, 3, 4)), strides=strides,
                                      padding=padding, dilations=dilations)


def depthwise(padding, strides):
    return lambda tf, x: tf.nn.depthwise_conv2d(x, const(tf, (3, 3, 3, 2)),
                                                [1, strides, strides, 1], padding)


def batch_norm(tf, x):
    mean, variance = const(tf, (3,), 2), tf.abs(const(tf, (3,), 3)) + 0.5
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, const(tf, (3,), 4), const(tf, (3,), 5), mean,
                                               variance, epsilon=1e-3, is_training=False)
    return y


def flatten_dynamic(tf, x):
    """What Keras' Flatten leaves in a graph with a dynamic batch: Shape/StridedSlice/Pack."""
    batch = tf.shape(x)[0]
    return tf.reshape(x, tf.stack([batch, -1]))


IMAGE = [1, 9, 9, 3]
# (id, input shape, build(tf, x) -> output)
CASES = [
    ("conv2d_same_stride2", IMAGE, conv("SAME", strides=2)),
    ("conv2d_valid_dilated", IMAGE, conv("VALID", dilations=2)),
    ("conv2d_explicit", IMAGE, conv([[0, 0], [1, 2], [2, 0], [0, 0]])),
    ("conv2d_dynamic", [None, None, None, 3], conv("SAME", strides=2)),
    ("depthwise_same", IMAGE, depthwise("SAME", 1)),
    ("depthwise_valid_stride2", IMAGE, depthwise("VALID", 2)),
    ("bias_add", IMAGE, lambda tf, x: tf.nn.bias_add(x, const(tf, (3,)))),
    ("bias_add_nchw", [1, 3, 4, 5],
     lambda tf, x: tf.nn.bias_add(x, const(tf, (3,)), data_format="NCHW")),
    ("fused_batch_norm", IMAGE, batch_norm),
    ("relu", IMAGE, lambda tf, x: tf.nn.relu(x)),
    ("relu6", IMAGE, lambda tf, x: tf.nn.relu6(x * 4)),
    ("sigmoid", IMAGE, lambda tf, x: tf.sigmoid(x)),
    ("tanh", IMAGE, lambda tf, x: tf.tanh(x)),
    ("exp", IMAGE, lambda tf, x: tf.exp(x)),
    ("sqrt", IMAGE, lambda tf, x: tf.sqrt(tf.abs(x))),
    ("rsqrt", IMAGE, lambda tf, x: tf.math.rsqrt(tf.abs(x) + 0.1)),
    ("square", IMAGE, lambda tf, x: tf.square(x)),
    ("leaky_relu", IMAGE, lambda tf, x: tf.nn.leaky_relu(x, alpha=0.2)),
    ("leaky_relu_steep", IMAGE, lambda tf, x: tf.nn.leaky_relu(x, alpha=1.5)),
    ("elu", IMAGE, lambda tf, x: tf.nn.elu(x)),
    ("add", IMAGE, lambda tf, x: tf.raw_ops.Add(x=x, y=const(tf, (9, 1, 3)))),
    ("add_v2", IMAGE, lambda tf, x: tf.add(x, const(tf, (3,)))),
    ("sub", IMAGE, lambda tf, x: tf.subtract(const(tf, (1, 9, 1, 1)), x)),
    ("mul", IMAGE, lambda tf, x: tf.multiply(x, x)),
    ("real_div", IMAGE, lambda tf, x: tf.divide(x, tf.abs(const(tf, (3,))) + 1)),
    ("maximum", IMAGE, lambda tf, x: tf.maximum(x, const(tf, (9, 3)))),
    ("minimum", IMAGE, lambda tf, x: tf.minimum(x, 0.25)),
    ("mean_keep", IMAGE, lambda tf, x: tf.reduce_mean(x, axis=[1, 2], keepdims=True)),
    ("mean", IMAGE, lambda tf, x: tf.reduce_mean(x, axis=[1, 2])),
    ("max", IMAGE, lambda tf, x: tf.reduce_max(x, axis=-1)),
    ("min", IMAGE, lambda tf, x: tf.reduce_min(x, axis=1, keepdims=True)),
    ("sum", IMAGE, lambda tf, x: tf.reduce_sum(x, axis=[0, 3])),
    ("prod", [2, 3, 4], lambda tf, x: tf.reduce_prod(x, axis=2)),
    ("max_pool_same", IMAGE, lambda tf, x: tf.nn.max_pool2d(x, 3, 2, "SAME")),
    ("max_pool_valid", IMAGE, lambda tf, x: tf.nn.max_pool2d(x, 2, 2, "VALID")),
    ("avg_pool_same", IMAGE, lambda tf, x: tf.nn.avg_pool2d(x, 3, 2, "SAME")),
    ("avg_pool_valid", IMAGE, lambda tf, x: tf.nn.avg_pool2d(x, [2, 3], [1, 2], "VALID")),
    ("pad", IMAGE, lambda tf, x: tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]])),
    ("pad_v2", IMAGE, lambda tf, x: tf.pad(x, [[0, 0], [1, 1], [2, 0], [0, 0]],
                                           constant_values=1.5)),
    ("mirror_pad_reflect", IMAGE, lambda tf, x: tf.pad(x, [[0, 0], [2, 1], [1, 2], [0, 0]],
                                                       mode="REFLECT")),
    ("mirror_pad_symmetric", IMAGE, lambda tf, x: tf.pad(x, [[0, 0], [1, 2], [3, 0], [0, 0]],
                                                         mode="SYMMETRIC")),
    ("matmul", [2, 5], lambda tf, x: tf.matmul(x, const(tf, (5, 4)))),
    ("matmul_transposed", [5, 2], lambda tf, x: tf.matmul(x, const(tf, (4, 5)),
                                                          transpose_a=True, transpose_b=True)),
    ("batch_matmul_v2", [2, 5, 3], lambda tf, x: tf.matmul(x, const(tf, (2, 5, 4)),
                                                           adjoint_a=True)),
    ("softmax", [2, 7], lambda tf, x: tf.nn.softmax(x)),
    ("reshape", IMAGE, lambda tf, x: tf.reshape(x, [9, -1])),
    ("flatten_dynamic_batch", [None, 4, 4, 3], flatten_dynamic),
    ("squeeze", [1, 3, 1, 2], lambda tf, x: tf.squeeze(x, axis=[2])),
    ("squeeze_all", [1, 3, 1, 2], lambda tf, x: tf.squeeze(x)),
    ("expand_dims", [3, 2], lambda tf, x: tf.expand_dims(x, -1)),
    ("concat", IMAGE, lambda tf, x: tf.concat([x, tf.nn.relu(x), x], axis=-1)),
    ("transpose", IMAGE, lambda tf, x: tf.transpose(x, [0, 3, 1, 2])),
    ("shape", [2, 3, 5], lambda tf, x: tf.shape(x)),
    ("strided_slice_masks", [2, 6, 5, 4], lambda tf, x: x[:, 1:5:2, ..., ::-2]),
    ("strided_slice_shrink_new_axis", [2, 6, 5], lambda tf, x: x[1, None, -3:, 2]),
    ("pack", [3, 2], lambda tf, x: tf.stack([x, x * 2], axis=1)),
    ("cast_to_int", [4, 5], lambda tf, x: tf.cast(x * 3, tf.int32)),
    ("cast_to_float", [4, 5], lambda tf, x: tf.cast(tf.cast(x * 3, tf.int32), tf.float32)),
    ("identity_n", IMAGE, lambda tf, x: tf.identity_n([x * 2, tf.nn.relu(x)])),
    ("stop_gradient", IMAGE, lambda tf, x: tf.stop_gradient(tf.identity(x)) + 1),
]


@pytest.mark.parametrize("build,shape", [(c[2], c[1]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_op_matches_tensorflow(tf, tmp_path, build, shape):
    concrete = [d if d is not None else 2 for d in shape]
    if shape[1:3] == [None, None]:
        concrete = [1, 11, 7, 3]

    def graph(tf):
        outputs = build(tf, placeholder(tf, shape))
        return outputs if isinstance(outputs, list) else tf.identity(outputs, name="y")

    check_graph(tf, tmp_path, graph, {"x": random(concrete, seed=7)})


def test_placeholder_with_default_uses_default(tf, tmp_path):
    def graph(tf):
        x = placeholder(tf, [2, 3])
        scale = tf.compat.v1.placeholder_with_default(tf.constant(2.5), [], name="scale")
        return tf.multiply(x, scale, name="y")

    xml = check_graph(tf, tmp_path, graph, {"x": random((2, 3))})
    assert input_names(xml) == [{"x", "x:0"}]


def test_placeholder_with_default_as_input(tf, tmp_path):
    def graph(tf):
        x = placeholder(tf, [2, 3])
        scale = tf.compat.v1.placeholder_with_default(tf.constant(2.5), [], name="scale")
        return tf.multiply(x, scale, name="y")

    feeds = {"x": random((2, 3)), "scale": np.array(-4.0, dtype=np.float32)}
    xml = check_graph(tf, tmp_path, graph, feeds, input="x,scale")
    assert input_names(xml) == [{"x", "x:0"}, {"scale", "scale:0"}]


def input_names(xml) -> list[set[str]]:
    import openvino as ov

    return [port.get_names() for port in ov.Core().read_model(str(xml)).inputs]


def test_input_shape_override(tf, tmp_path):
    def graph(tf):
        return tf.nn.relu(conv("SAME")(tf, placeholder(tf, [None, None, None, 3])), name="y")

    xml = check_graph(tf, tmp_path, graph, {"x": random((1, 6, 10, 3))},
                      input_shape="[1,6,10,3]")
    assert "<dim>?</dim>" not in xml.read_text()


def test_int_inputs_and_placeholder_dtype(tf, tmp_path):
    def graph(tf):
        x = placeholder(tf, [3, 4], dtype=tf.int32)
        return tf.add(x, tf.constant(5), name="y")

    check_graph(tf, tmp_path, graph, {"x": np.arange(12, dtype=np.int32).reshape(3, 4)})
