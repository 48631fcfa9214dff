"""TensorFlow control flow known at conversion time: TF1 while loops (Enter/Merge/Switch/
NextIteration/Exit, TensorArrayV3), `tf.map_fn` over a batch of one, TF1 `tf.cond` with a
constant predicate, and TF2's functional While/If (cond, body and branches in the graph's
function library). Each graph is converted, run in OpenVINO and compared with TensorFlow; the
IR keeps no loop, no list and no untaken branch."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from converter import convert
from modelzoo.runtime import run_openvino
from tf_support import compare, graph_def_of, placeholder, random, v1_control_flow




def ir_ops(xml) -> Counter:
    return Counter(re.findall(r'<layer id="\d+" name="[^"]*" type="(\w+)"', xml.read_text()))


def check_v1(tf, tmp_path, build, feeds, **flags) -> Counter:
    with v1_control_flow():
        data, outputs = graph_def_of(tf, build)
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    ops = ir_ops(compare(tmp_path, pb, feeds, outputs, atol=1e-5, **flags))
    assert not {"Loop", "TensorIterator", "If"} & set(ops), ops
    return ops


def source_ops(data: bytes, tf) -> Counter:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(data)
    return Counter(node.op for node in graph_def.node)


def test_while_loop_with_a_static_trip_count_is_unrolled(tf, tmp_path):
    def build(tf):
        x = placeholder(tf, [2, 3])
        weight = tf.constant(random((3, 3), 1) * 0.5)
        _, y = tf.while_loop(lambda i, y: i < 4,
                             lambda i, y: (i + 1, tf.tanh(tf.matmul(y, weight) + 1.0)),
                             [tf.constant(0), x])
        return tf.identity(y, name="y")

    with v1_control_flow():
        assert {"Enter", "Merge", "Switch", "NextIteration", "Exit", "LoopCond"} <= \
            set(source_ops(graph_def_of(tf, build)[0], tf))
    ops = check_v1(tf, tmp_path, build, {"x": random((2, 3))})
    assert ops["MatMul"] == 4 and ops["Tanh"] == 4, ops


def test_while_loop_writing_a_tensor_array(tf, tmp_path):
    """Each iteration writes a row of a TensorArrayV3; the stacked array is the output."""
    def build(tf):
        x = placeholder(tf, [3, 4])
        array = tf.TensorArray(tf.float32, size=3)

        def body(i, total, array):
            total = total + tf.gather(x, i)
            return i + 1, total, array.write(i, total * 2.0)

        _, _, array = tf.while_loop(lambda i, *_: i < 3, body,
                                    [tf.constant(0), tf.zeros([4]), array])
        return tf.identity(array.stack(), name="y")

    with v1_control_flow():
        assert "TensorArrayWriteV3" in source_ops(graph_def_of(tf, build)[0], tf)
    ops = check_v1(tf, tmp_path, build, {"x": random((3, 4))})
    assert not [op for op in ops if "TensorArray" in op]


def test_nested_while_loops(tf, tmp_path):
    def build(tf):
        x = placeholder(tf, [2, 2])

        def inner(y):
            return tf.while_loop(lambda j, y: j < 3, lambda j, y: (j + 1, y * 0.5 + 1.0),
                                 [tf.constant(0), y])[1]

        _, y = tf.while_loop(lambda i, y: i < 2, lambda i, y: (i + 1, tf.tanh(inner(y))),
                             [tf.constant(0), x])
        return tf.identity(y, name="y")

    ops = check_v1(tf, tmp_path, build, {"x": random((2, 2))})
    assert ops["Tanh"] == 2, ops


@pytest.mark.parametrize("declared, flags", [
    ([1, 8, 8, 3], {}),
    ([None, None, None, 3], {"input_shape": [1, 8, 8, 3]}),  # as ODAPI exports declare it
], ids=["static", "given_by_input_shape"])
def test_map_fn_over_a_batch_of_one(tf, tmp_path, declared, flags):
    """The ODAPI Preprocessor's pattern: `map` resizes and normalizes each image through
    TensorArrays; with a batch of one it unrolls to one pass and leaves no loop behind."""
    def build(tf):
        images = placeholder(tf, declared, name="image_tensor")
        resized = tf.map_fn(lambda image: tf.compat.v1.image.resize_bilinear(
            image[None], [4, 4])[0] * (2.0 / 255.0) - 1.0, images, back_prop=False,
            name="Preprocessor/map")
        return tf.identity(resized, name="y")

    image = np.random.default_rng(0).uniform(0, 255, (1, 8, 8, 3)).astype(np.float32)
    with v1_control_flow():
        assert "TensorArrayScatterV3" in source_ops(graph_def_of(tf, build)[0], tf)
    ops = check_v1(tf, tmp_path, build, {"image_tensor": image}, **flags)
    assert ops["Interpolate"] == 1, ops
    assert not [op for op in ops if "TensorArray" in op or op in ("Gather", "Concat")], ops


def test_v1_cond_with_a_constant_predicate_keeps_the_taken_branch(tf, tmp_path):
    def build(tf):
        x = placeholder(tf, [2, 3])
        taken = tf.cond(tf.constant(False), lambda: tf.exp(x), lambda: tf.tanh(x) * 3.0)
        return tf.identity(taken, name="y")

    with v1_control_flow():
        assert "Switch" in source_ops(graph_def_of(tf, build)[0], tf)
    ops = check_v1(tf, tmp_path, build, {"x": random((2, 3))})
    assert ops["Tanh"] == 1 and "Exp" not in ops, ops


def test_loop_with_a_trip_count_from_the_input_is_a_loop(tf, tmp_path):
    """A trip count only known at run time makes one OpenVINO Loop (more in
    tests/test_tf1_dynamic_loops.py)."""
    def build(tf):
        x = placeholder(tf, [None, 3])
        _, y = tf.while_loop(lambda i, y: i < tf.shape(x)[0], lambda i, y: (i + 1, y * 2.0),
                             [tf.constant(0), x])
        return tf.identity(y, name="y")

    with v1_control_flow():
        data, outputs = graph_def_of(tf, build)
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    for batch in (2, 3):
        xml = compare(tmp_path, pb, {"x": random((batch, 3), batch)}, outputs)
    assert ir_ops(xml)["Loop"] == 1


def test_loop_with_a_dynamic_batch_converts_once_its_shape_is_given(tf, tmp_path):
    """The same loop unrolls when --input_shape fixes the dimension it counts."""
    def build(tf):
        x = placeholder(tf, [None, 3])
        _, y = tf.while_loop(lambda i, y: i < tf.shape(x)[0], lambda i, y: (i + 1, y * 2.0),
                             [tf.constant(0), x])
        return tf.identity(y, name="y")

    ops = check_v1(tf, tmp_path, build, {"x": random((2, 3))}, input_shape=[2, 3])
    assert ops["Multiply"] <= 2, ops


def frozen_function(tf, function, spec) -> bytes:
    """A tf.function frozen with its While/If kept as functional ops (not lowered)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = function.get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(concrete, lower_control_flow=False).graph
    return graph.as_graph_def().SerializeToString()


def check_function(tf, tmp_path, function, x) -> Counter:
    data = frozen_function(tf, function, tf.TensorSpec(x.shape, tf.float32, name="x"))
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    xml = convert(pb, tmp_path / "ir", "model")
    expected = function(tf.constant(x)).numpy()
    actual = run_openvino(xml, {"x": x})["Identity:0"]
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    return source_ops(data, tf), ir_ops(xml)


def test_functional_while_is_unrolled(tf, tmp_path):
    weight = tf.constant(random((3, 3), 2) * 0.5)

    @tf.function
    def loop(x):
        return tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.sigmoid(y @ weight)),
                             [tf.constant(0), x])[1]

    source, ops = check_function(tf, tmp_path, loop, random((2, 3)))
    assert {"While", "StatelessWhile"} & set(source), source
    assert ops["Sigmoid"] == 3 and "Loop" not in ops, ops


def test_functional_if_with_a_constant_predicate(tf, tmp_path):
    @tf.function
    def branch(x):
        flag = tf.reduce_sum(tf.ones([2])) > 1.0  # a tensor TF does not fold away
        return tf.cond(flag, lambda: tf.nn.relu(x) + 1.0, lambda: tf.exp(x))

    source, ops = check_function(tf, tmp_path, branch, random((2, 3)))
    assert {"If", "StatelessIf"} & set(source), source
    assert "Exp" not in ops and "If" not in ops, ops


def test_tf1_lstm_over_tensor_arrays(tf, tmp_path):
    """An LSTM written the TF1 way: a while loop reading x[:, t] and writing h into a
    TensorArrayV3, stacked and transposed to [batch, time, units] at the end."""
    steps, units = 4, 3
    w, r = random((2, 4 * units), 3) * 0.5, random((units, 4 * units), 4) * 0.5
    b = random((4 * units,), 5) * 0.1

    def build(tf):
        x = placeholder(tf, [2, steps, 2])

        def step(t, h, c, out):
            z = tf.matmul(tf.gather(x, t, axis=1), w) + tf.matmul(h, r) + b
            i, f, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            return t + 1, h, c, out.write(t, h)

        zeros = tf.zeros([2, units])
        loop = tf.while_loop(lambda t, *_: t < steps, step,
                             [tf.constant(0), zeros, zeros, tf.TensorArray(tf.float32, steps)])
        return tf.identity(tf.transpose(loop[3].stack(), [1, 0, 2]), name="y")

    ops = check_v1(tf, tmp_path, build, {"x": random((2, steps, 2), 6)})
    assert ops["Sigmoid"] == 3 * steps, ops
