"""Bad models given to the converter: each is a UserInputError (a ConversionError the user can
act on) that names the file or the node, never an InternalError or a library's exception."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import converter
from converter.errors import ConversionError, InternalError, UserInputError
from tinymodels import conv_weights, write_onnx_conv_relu


def onnx_model(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path.write_bytes(model.SerializeToString())
    return path


def frozen_graph_bytes() -> bytes:
    """A tiny GraphDef (Placeholder -> Relu), built with the protobuf classes we parse with."""
    from converter.frontends.tf.proto import messages

    graph = messages().GraphDef()
    node = graph.node.add(name="x", op="Placeholder")
    node.attr["dtype"].type = 1
    node.attr["shape"].shape.dim.add(size=1)
    node.attr["shape"].shape.dim.add(size=4)
    relu = graph.node.add(name="y", op="Relu", input=["x"])
    relu.attr["T"].type = 1
    return graph.SerializeToString()


def user_error(tmp_path: Path, model: Path, **flags) -> str:
    with pytest.raises(ConversionError) as caught:
        converter.convert(model, output_dir=tmp_path / "out", **flags)
    assert isinstance(caught.value, UserInputError), repr(caught.value)
    assert not isinstance(caught.value, InternalError)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return str(caught.value)


def test_an_onnx_file_named_pb_given_as_tensorflow(tmp_path):
    onnx_bytes = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights()).read_bytes()
    (tmp_path / "model.pb").write_bytes(onnx_bytes)
    assert "model.pb" in user_error(tmp_path, tmp_path / "model.pb", framework="tf")


def test_a_graph_def_named_onnx_given_as_onnx(tmp_path):
    (tmp_path / "model.onnx").write_bytes(frozen_graph_bytes())
    assert "model.onnx" in user_error(tmp_path, tmp_path / "model.onnx", framework="onnx")


def test_a_cycle(tmp_path):
    from onnx import helper

    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second")]
    model = onnx_model(tmp_path / "cycle.onnx", nodes, [("x", [1, 4])], [("a", [1, 4])])
    text = user_error(tmp_path, model)  # ONNX nodes come in order: a cycle reads ahead
    assert "'first'" in text and "'b'" in text


def test_a_dangling_input(tmp_path):
    from onnx import helper

    nodes = [helper.make_node("Add", ["x", "nowhere"], ["y"], name="the_add")]
    model = onnx_model(tmp_path / "dangling.onnx", nodes, [("x", [1, 4])], [("y", [1, 4])])
    text = user_error(tmp_path, model)
    assert "nowhere" in text and "the_add" in text


def test_matmul_of_incompatible_shapes_names_the_node(tmp_path):
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((5, 2), np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="the_matmul")]
    model = onnx_model(tmp_path / "mm.onnx", nodes, [("x", [1, 4])], [("y", [1, 2])], [weight])
    assert "the_matmul" in user_error(tmp_path, model)


def test_huge_declared_dims_are_not_allocated(tmp_path):
    from onnx import helper

    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    model = onnx_model(tmp_path / "huge.onnx", nodes, [("x", [1000, 1000, 1000, 1000])],
                       [("y", [1000, 1000, 1000, 1000])])
    xml = converter.convert(model, output_dir=tmp_path / "out")  # no tensor of that size is made
    assert xml.is_file() and (tmp_path / "out" / "huge.bin").stat().st_size < 1024


def test_huge_constant_folding_is_refused(tmp_path):
    """An Expand to 10^12 elements of a constant must not be folded into memory."""
    from onnx import helper, numpy_helper

    shape = numpy_helper.from_array(np.array([1000, 1000, 1000, 1000], np.int64), "shape")
    one = numpy_helper.from_array(np.ones((1,), np.float32), "one")
    nodes = [helper.make_node("Expand", ["one", "shape"], ["big"], name="the_expand"),
             helper.make_node("Add", ["x", "big"], ["y"], name="add")]
    model = onnx_model(tmp_path / "expand.onnx", nodes, [("x", [1000, 1000, 1000, 1000])],
                       [("y", [1000, 1000, 1000, 1000])], [shape, one])
    try:
        converter.convert(model, output_dir=tmp_path / "out")
    except ConversionError as exc:
        assert isinstance(exc, UserInputError) and "the_expand" in str(exc), repr(exc)
    else:
        assert (tmp_path / "out" / "expand.bin").stat().st_size < 1 << 20


def test_mean_values_of_the_wrong_channel_count(tmp_path):
    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    text = user_error(tmp_path, model, mean_values=[1.0, 2.0])
    assert "mean_values" in text and "3" in text
