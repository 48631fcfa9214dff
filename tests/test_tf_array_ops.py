"""The array ops of TF1 zoo graphs (gather, split, slice, tile, select, ranking, generation,
SpaceToBatchND, Conv2DBackpropInput, NCHW layouts) against TensorFlow itself: a tiny
tf.compat.v1 graph per case, converted, run in OpenVINO and in TensorFlow, compared tightly."""
from __future__ import annotations

import pytest

from converter import UnsupportedOpsError, convert
from tf_support import check_graph, const, graph_def_of, placeholder, random


IMAGE = [1, 6, 6, 3]
# (id, input shape, build(tf, x) -> output or list of outputs)
CASES = [
    ("gather_v2_axis1", [3, 5, 2], lambda tf, x: tf.gather(x, [4, 0, 2, 2], axis=1)),
    ("gather_v2_negative_axis", [3, 5, 2], lambda tf, x: tf.gather(x, [[1], [0]], axis=-1)),
    ("gather_v2_batch_dims", [2, 5, 3],
     lambda tf, x: tf.gather(x, tf.constant([[4, 1, 1], [0, 3, 2]]), axis=1, batch_dims=1)),
    ("gather_v1", [4, 3], lambda tf, x: tf.raw_ops.Gather(params=x, indices=[3, 1, 1])),
    ("split", IMAGE, lambda tf, x: tf.split(x, 3, axis=-1)),
    ("split_v", [2, 7, 3], lambda tf, x: tf.split(x, [2, -1, 1], axis=1)),
    ("unpack", [3, 4, 2], lambda tf, x: tf.unstack(x, axis=1)),
    ("unpack_negative_axis", [3, 4, 2], lambda tf, x: tf.unstack(x, axis=-1)),
    ("slice", [3, 5, 4], lambda tf, x: tf.slice(x, [1, 0, 2], [2, -1, 1])),
    ("slice_dynamic_size", [3, 5, 4],
     lambda tf, x: tf.slice(x, [0, 1, 0], tf.shape(x) - tf.constant([1, 2, 0]))),
    ("tile", [2, 3], lambda tf, x: tf.tile(x, [2, 3])),
    ("fill", [2, 3], lambda tf, x: x + tf.fill([4, 2, 3], 1.5)),
    ("fill_from_shape", [2, 3], lambda tf, x: tf.fill(tf.shape(x), 2.0) * x),
    ("zeros_like", [2, 3], lambda tf, x: tf.zeros_like(x) + 1),
    ("ones_like_dynamic", [None, 3], lambda tf, x: tf.ones_like(x) * 3 - x),
    ("select_v2", [2, 3, 4], lambda tf, x: tf.where(x > 0, x, const(tf, (3, 1)))),
    ("select_v1_rows", [3, 2, 2],
     lambda tf, x: tf.raw_ops.Select(condition=tf.constant([True, False, True]), x=x, y=-x)),
    ("select_v1_same_shape", [2, 3],
     lambda tf, x: tf.raw_ops.Select(condition=x > 0.2, x=x, y=tf.zeros_like(x))),
    ("clip_by_value", [4, 5], lambda tf, x: tf.clip_by_value(x, -0.5, 0.25)),
    ("clip_by_value_tensors", [4, 5],
     lambda tf, x: tf.clip_by_value(x, const(tf, (5,)) - 1, const(tf, (5,)) + 1)),
    ("argmax", [3, 5, 4], lambda tf, x: tf.argmax(x, axis=1)),
    ("argmax_int32_last", [3, 5, 4], lambda tf, x: tf.argmax(x, axis=-1, output_type=tf.int32)),
    ("argmin", [3, 5, 4], lambda tf, x: tf.argmin(x, axis=0)),
    ("argmax_ties", [2, 4], lambda tf, x: tf.argmax(tf.minimum(x, 0.0) * 0 + 1, axis=1)),
    ("argmin_ties", [2, 4], lambda tf, x: tf.argmin(tf.maximum(x, 0.0), axis=1)),
    ("top_k", [3, 7], lambda tf, x: list(tf.math.top_k(x, k=3))),
    ("cumsum", [3, 5], lambda tf, x: tf.cumsum(x, axis=1)),
    ("cumsum_exclusive_reverse", [3, 5],
     lambda tf, x: tf.cumsum(x, axis=0, exclusive=True, reverse=True)),
    ("one_hot", [3, 4], lambda tf, x: tf.one_hot(tf.cast(tf.abs(x) * 2, tf.int32), 5) + 0),
    ("one_hot_axis0_values", [3], lambda tf, x: tf.one_hot(tf.cast(tf.abs(x) * 2, tf.int64), 4,
                                                            on_value=2.5, off_value=-1.0, axis=0)),
    ("einsum_matmul", [2, 3, 4], lambda tf, x: tf.einsum("bij,jk->bik", x, const(tf, (4, 5)))),
    ("einsum_transpose_sum", [2, 3, 4], lambda tf, x: tf.einsum("bij->jb", x)),
    ("range", [5], lambda tf, x: x * tf.cast(tf.range(5), tf.float32)),
    ("range_float", [4], lambda tf, x: x + tf.range(1.0, 3.0, 0.5)),
    ("range_from_shape", [2, 6],
     lambda tf, x: tf.gather(x, tf.range(0, tf.shape(x)[1], 2), axis=1)),
    ("depth_to_space", [1, 3, 2, 8], lambda tf, x: tf.nn.depth_to_space(x, 2)),
    ("space_to_depth", [1, 4, 6, 3], lambda tf, x: tf.nn.space_to_depth(x, 2)),
    ("space_to_batch", [2, 5, 4, 3],
     lambda tf, x: tf.space_to_batch_nd(x, [2, 2], [[1, 0], [0, 2]])),
    ("batch_to_space", [8, 2, 3, 3], lambda tf, x: tf.batch_to_space(x, [2, 2], [[0, 1], [1, 0]])),
    ("space_to_batch_1d", [2, 6, 3], lambda tf, x: tf.space_to_batch_nd(x, [3], [[2, 1]])),
    # on constants: folded at conversion by each op's own evaluation
    ("space_to_batch_constant", [12, 3, 2, 3],
     lambda tf, x: x + tf.space_to_batch_nd(const(tf, (2, 5, 4, 3)), [2, 3], [[1, 0], [0, 2]])),
    ("batch_to_space_constant", [2, 3, 5, 3],
     lambda tf, x: x + tf.batch_to_space(const(tf, (12, 2, 2, 3)), [2, 3], [[1, 0], [0, 1]])),
    ("gather_batch_dims_constant", [2, 3],
     lambda tf, x: x + tf.gather(const(tf, (2, 4)), [[3, 0, 0], [1, 2, 3]], axis=1, batch_dims=1)),
]


@pytest.mark.parametrize("build,shape", [(c[2], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_op_matches_tensorflow(tf, tmp_path, build, shape):
    concrete = [d if d is not None else 2 for d in shape]

    def graph(tf):
        outputs = build(tf, placeholder(tf, shape))
        if isinstance(outputs, (list, tuple)):
            return [tf.identity(o, name=f"y{i}") for i, o in enumerate(outputs)]
        return tf.identity(outputs, name="y")

    check_graph(tf, tmp_path, graph, {"x": random(concrete, seed=7)})


def conv_transpose(padding, strides, out_size, data_format="NHWC"):
    def build(tf, x):
        sizes = [1, *out_size, 2] if data_format == "NHWC" else [1, 2, *out_size]
        return tf.nn.conv2d_transpose(x, const(tf, (3, 3, 2, 4)), sizes, strides, padding,
                                      data_format=data_format)
    return build


@pytest.mark.parametrize("build,shape", [
    (conv_transpose("SAME", 2, (10, 8)), [1, 5, 4, 4]),
    (conv_transpose("SAME", 2, (9, 7)), [1, 5, 4, 4]),
    (conv_transpose("VALID", 2, (11, 9)), [1, 5, 4, 4]),
    (conv_transpose("VALID", 2, (12, 10)), [1, 5, 4, 4]),   # output_padding 1
    (conv_transpose("VALID", 1, (7, 6)), [1, 5, 4, 4]),
    (conv_transpose("SAME", 2, (10, 8), "NCHW"), [1, 4, 5, 4]),
], ids=["same_s2_even", "same_s2_odd", "valid_s2", "valid_s2_padded", "valid_s1", "same_nchw"])
def test_conv2d_backprop_input(tf, tmp_path, build, shape):
    def graph(tf):
        return tf.identity(build(tf, placeholder(tf, shape)), name="y")

    check_graph(tf, tmp_path, graph, {"x": random(shape, seed=3)}, atol=1e-4)


def test_conv2d_transpose_with_dynamic_batch(tf, tmp_path):
    """Keras computes input_sizes from the run-time batch (Shape -> StridedSlice -> Pack): the
    spatial sizes are constant, so it still converts."""
    def graph(tf):
        x = placeholder(tf, [None, 5, 4, 4])
        sizes = tf.stack([tf.shape(x)[0], 10, 8, 2])
        return tf.identity(tf.nn.conv2d_transpose(x, const(tf, (3, 3, 2, 4)), sizes, 2, "SAME"),
                           name="y")

    check_graph(tf, tmp_path, graph, {"x": random([2, 5, 4, 4], seed=4)}, atol=1e-4)


def nchw_block(tf, x):
    """Conv2D, BiasAdd, FusedBatchNorm (v1 and v3), max and average pooling, depthwise and
    strided convolutions, all NCHW."""
    y = tf.nn.conv2d(x, const(tf, (3, 3, 3, 4)), 1, "SAME", data_format="NCHW")
    y = tf.nn.bias_add(y, const(tf, (4,), 2), data_format="NCHW")
    stats = [const(tf, (4,), 3), const(tf, (4,), 4), const(tf, (4,), 5),
             tf.abs(const(tf, (4,), 6)) + 0.5]
    y = tf.raw_ops.FusedBatchNorm(x=y, scale=stats[0], offset=stats[1], mean=stats[2],
                                  variance=stats[3], epsilon=1e-3, data_format="NCHW",
                                  is_training=False)[0]
    y = tf.nn.max_pool2d(tf.nn.relu(y), 3, 2, "SAME", data_format="NCHW")
    y = tf.raw_ops.FusedBatchNormV3(x=y, scale=stats[1], offset=stats[0], mean=stats[3],
                                    variance=stats[3], epsilon=1e-3, data_format="NCHW",
                                    is_training=False)[0]
    y = tf.nn.avg_pool2d(y, 2, 1, "VALID", data_format="NCHW")
    y = tf.nn.depthwise_conv2d(y, const(tf, (3, 3, 4, 2), 7), [1, 1, 2, 2], "SAME",
                               data_format="NCHW")
    return tf.nn.conv2d(y, const(tf, (2, 2, 8, 3), 8), [1, 1, 2, 1], "VALID", data_format="NCHW")


def test_nchw_graph(tf, tmp_path):
    def graph(tf):
        return tf.identity(nchw_block(tf, placeholder(tf, [1, 3, 7, 7])), name="y")

    check_graph(tf, tmp_path, graph, {"x": random([1, 3, 7, 7], seed=2)}, atol=1e-4)


def test_slim_fused_batch_norm_v1(tf, tmp_path):
    """TF-slim's fused batch norm (FusedBatchNorm, the first version) in inference mode."""
    def graph(tf):
        x = placeholder(tf, [2, 5, 5, 3])
        y = tf.raw_ops.FusedBatchNorm(x=x, scale=const(tf, (3,), 3), offset=const(tf, (3,), 4),
                                      mean=const(tf, (3,), 5),
                                      variance=tf.abs(const(tf, (3,), 6)) + 0.1,
                                      epsilon=0.001, is_training=False)[0]
        return tf.identity(y, name="y")

    check_graph(tf, tmp_path, graph, {"x": random([2, 5, 5, 3], seed=1)}, atol=1e-4)


def test_unsupported_ops_are_listed_with_counts(tf, tmp_path):
    def graph(tf):
        x = placeholder(tf, [4])
        a = tf.raw_ops.Bucketize(input=x, boundaries=[0.0])
        b = tf.raw_ops.Bucketize(input=x * 2, boundaries=[1.0])
        return tf.identity(tf.cast(a + b, tf.float32) + tf.math.lgamma(x), name="y")

    data, _ = graph_def_of(tf, graph)
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    with pytest.raises(UnsupportedOpsError) as info:
        convert(pb, tmp_path / "ir", "model")
    message = str(info.value)
    assert "Bucketize x2" in message and "Lgamma x1" in message, message
    assert "'Bucketize'" in message and "'Bucketize_1'" in message and "'Lgamma'" in message


def test_conv2d_transpose_with_run_time_sizes(tf, tmp_path):
    """input_sizes computed from a run-time input shape: OpenVINO spreads the padding."""
    def graph(tf):
        x = placeholder(tf, [1, None, None, 4])
        sizes = tf.shape(x) * tf.constant([1, 2, 2, 0]) + tf.constant([0, -1, 0, 2])
        return tf.identity(tf.nn.conv2d_transpose(x, const(tf, (3, 3, 2, 4)), sizes, 2, "SAME"),
                           name="y")

    check_graph(tf, tmp_path, graph, {"x": random([1, 5, 4, 4], seed=4)}, atol=1e-4)
