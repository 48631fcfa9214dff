"""The TensorFlow frontend as a whole: GraphDef parsing without TensorFlow, text graphs,
errors, and whole models (Keras MobileNetV2, a SavedModel, a checkpoint) against TensorFlow."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from converter import convert
from converter.errors import ModelLoadError, UnsupportedOpsError, UserInputError
from converter.frontends.tf.context import decode_attr
from converter.frontends.tf.graph_def import parse_graph_def
from converter.frontends.tf.proto import messages
from converter.frontends.tf.tensors import tensor_value
from tf_support import compare, feeds_for, graph_def_of, random
from modelzoo.runtime import run_openvino

ROOT = Path(__file__).resolve().parents[1]


def small_net(tf):
    x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
    y = tf.nn.conv2d(x, tf.constant(random((3, 3, 3, 4), 1)), 1, "SAME")
    y = tf.nn.relu(tf.nn.bias_add(y, tf.constant(random((4,), 2))), name="features")
    return tf.reduce_mean(y, axis=[1, 2], name="y")


def test_descriptors_match_tensorflow(tf):
    """Every field we declare has TensorFlow's number, type and cardinality."""
    from tensorflow.core.framework import graph_pb2

    ours, theirs = messages().GraphDef.DESCRIPTOR, graph_pb2.GraphDef.DESCRIPTOR
    pending, seen = [(ours, theirs)], set()
    while pending:
        mine, reference = pending.pop()
        if mine.full_name in seen:
            continue
        seen.add(mine.full_name)
        for field in mine.fields:
            other = reference.fields_by_name[field.name]
            assert (field.number, field.type, field.is_repeated) == (
                other.number, other.type, other.is_repeated), f"{mine.full_name}.{field.name}"
            assert (field.containing_oneof is None) == (other.containing_oneof is None)
            if field.message_type is not None:
                pending.append((field.message_type, other.message_type))
    assert {"tensorflow.TensorProto", "tensorflow.AttrValue.ListValue"} <= seen
    reference_enum = graph_pb2.GraphDef.DESCRIPTOR.fields_by_name["node"].message_type \
        .fields_by_name["attr"].message_type.fields_by_name["value"].message_type \
        .fields_by_name["type"].enum_type
    for value in messages().TensorProto.DESCRIPTOR.fields_by_name["dtype"].enum_type.values:
        assert reference_enum.values_by_name[value.name].number == value.number


def test_parses_tensorflow_graph_def_identically(tf):
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        y = tf.nn.conv2d(x, tf.constant(random((3, 3, 3, 2))), [1, 2, 2, 1], "SAME")
        y = y + tf.constant(1.5, shape=[2]) + tf.cast(tf.constant([7, 8], tf.int64), tf.float32)
        y = tf.cast(tf.constant(np.float16(2.5), shape=[2]), tf.float32) * y
        return tf.where(tf.constant([True, False]), y, -y, name="y")

    data, _ = graph_def_of(tf, graph)
    reference = tf.compat.v1.GraphDef.FromString(data)
    ours = parse_graph_def(data, False, "test")
    assert tf.compat.v1.GraphDef.FromString(ours.SerializeToString()) == reference
    assert [(n.name, n.op, list(n.input)) for n in ours.node] == [
        (n.name, n.op, list(n.input)) for n in reference.node]
    for mine, theirs in zip(ours.node, reference.node):
        assert set(mine.attr) == set(theirs.attr)
        for key, value in theirs.attr.items():
            _assert_same_attr(tf, decode_attr(mine.attr[key], key), value)


def _assert_same_attr(tf, decoded, reference) -> None:
    kind = reference.WhichOneof("value")
    if kind == "tensor":
        expected = tf.make_ndarray(reference.tensor)
        assert decoded.dtype == expected.dtype and np.array_equal(decoded, expected)
    elif kind == "shape":
        assert decoded == tuple(d.size for d in reference.shape.dim)
    elif kind == "s":
        assert decoded == reference.s.decode()
    elif kind == "list":
        assert list(decoded) in ([list(v) for _, v in reference.list.ListFields()] or [[]])
    else:
        assert decoded == getattr(reference, kind)


@pytest.mark.parametrize("value", [
    np.full((2, 3), 1.5, np.float32), np.array([[1, 2], [2, 2]], np.int64),
    np.array([True, False, False]), np.full((4,), 0.333, np.float16),
    np.array([1.0, 2.0, 2.0, 2.0]), np.array(7, np.int32), np.arange(6, dtype=np.uint8)])
def test_tensor_values(tf, value):
    """Compact TensorProtos (a short *_val list filled with its last value) decode in full."""
    proto = tf.make_tensor_proto(value)
    ours = messages().TensorProto.FromString(proto.SerializeToString())
    decoded = tensor_value(ours, "test")
    assert decoded.dtype == value.dtype and np.array_equal(decoded, value)


def test_string_tensor_is_a_clear_error(tf):
    proto = tf.make_tensor_proto(np.array([b"a", b"b"]))
    ours = messages().TensorProto.FromString(proto.SerializeToString())
    with pytest.raises(UserInputError, match="string"):
        tensor_value(ours, "node 'names'")


def test_text_graph_def(tf, tmp_path):
    with tf.Graph().as_default() as graph:
        small_net(tf)
    pbtxt = tmp_path / "model.pbtxt"
    pbtxt.write_text(str(graph.as_graph_def()))
    pb = tmp_path / "model.pb"
    pb.write_bytes(graph.as_graph_def().SerializeToString())
    xml = convert(pbtxt, tmp_path / "ir", "text")
    feeds = {"x": random((1, 8, 8, 3), 3)}
    expected = compare(tmp_path, pb, feeds, ["y:0"])
    assert expected.exists()
    np.testing.assert_allclose(run_openvino(xml, feeds_for(feeds))["y"],
                               run_openvino(expected, feeds_for(feeds))["y"], rtol=1e-6)


def test_output_flag_and_tensor_names(tf, tmp_path):
    data, _ = graph_def_of(tf, small_net)
    (tmp_path / "model.pb").write_bytes(data)
    xml = compare(tmp_path, tmp_path / "model.pb", {"x": random((1, 8, 8, 3))}, ["features:0"],
                  output="features")
    outputs = run_openvino(xml, feeds_for({"x": random((1, 8, 8, 3))}))
    assert {"features", "features:0"} <= set(outputs) and "y" not in outputs
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    assert model.inputs[0].get_names() == {"x", "x:0"}
    assert [str(d) for d in model.inputs[0].get_partial_shape()] == ["1", "8", "8", "3"]


def test_unsupported_ops_listed_together(tf, tmp_path):
    def graph(tf):
        x = tf.compat.v1.placeholder(tf.float32, [4, 3], name="x")
        return tf.sin(tf.math.lgamma(x, name="running"), name="wave") + tf.math.cos(x, name="c")

    data, _ = graph_def_of(tf, graph)
    (tmp_path / "m.pb").write_bytes(data)
    with pytest.raises(UnsupportedOpsError) as info:
        convert(tmp_path / "m.pb", tmp_path / "ir", "m")
    assert set(info.value.unsupported) == {("Lgamma", "running"), ("Sin", "wave"), ("Cos", "c")}
    assert "'running'" in str(info.value) and "'wave'" in str(info.value)


@pytest.mark.parametrize("content", [b"\x00\x01garbage\xff" * 10, b"", b"\x0a\x02\x08\x01"])
def test_garbage_file_is_a_load_error(tmp_path, content):
    path = tmp_path / "broken.pb"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match="broken.pb") as info:
        convert(path, tmp_path / "ir", "m")
    assert "frozen TensorFlow GraphDef" in str(info.value)


def test_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        convert(tmp_path / "absent.pb", tmp_path / "ir", "m")


def test_frozen_graph_converts_without_tensorflow(tf, tmp_path):
    data, _ = graph_def_of(tf, small_net)
    (tmp_path / "m.pb").write_bytes(data)
    script = ("import sys; from converter import convert; "
              f"convert({str(tmp_path / 'm.pb')!r}, {str(tmp_path / 'ir')!r}, 'm'); "
              "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "False"
    assert (tmp_path / "ir" / "m.xml").exists()


def test_input_at_an_internal_node_cuts_the_graph_there(tf, tmp_path):
    """mo's `--input` naming an inner node (as Open Model Zoo's resnet-50-tf does): what feeds
    it is dropped, even ops we cannot convert, and it becomes an input of the given shape."""
    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, [1, 4, 4, 3], name="x")
        preprocessed = tf.identity(tf.math.cumsum(x, axis=1), name="pre")  # Cumsum: unsupported
        return tf.nn.relu(preprocessed * 2.0, name="y")

    data, outputs = graph_def_of(tf, build)
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    xml = convert(pb, tmp_path / "ir", "cut", input="pre[1 4 4 3]", output="y")
    value = random((1, 4, 4, 3))
    np.testing.assert_allclose(run_openvino(xml, {"pre": value})["y"], np.maximum(value * 2, 0), rtol=1e-6)
    with pytest.raises(UserInputError, match="--input pre: this node is not a placeholder"):
        convert(pb, tmp_path / "ir2", "cut", input="pre", output="y")
