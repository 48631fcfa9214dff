"""The ONNX frontend's model-level behaviour: errors, input overrides, cuts, names."""
from __future__ import annotations

import numpy as np
import onnx
import openvino as ov
import pytest
from onnx import helper

from converter import convert
from converter.errors import ModelLoadError, UnsupportedOpsError, UserInputError
from modelzoo.runtime import run_onnxruntime, run_openvino
from onnx_testing import FLOAT, convert_and_compare, make_model, single_op


def conv_model(input_shape: tuple) -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    init = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32)}
    return single_op("Conv", [input_shape], 13, initializers=init, pads=[1, 1, 1, 1])


def ir_input_shapes(xml) -> dict[str, list]:
    model = ov.Core().read_model(str(xml))
    return {p.get_any_name(): [str(d) for d in p.get_partial_shape()] for p in model.inputs}


def test_unsupported_ops_are_all_listed(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="fine"),
             helper.make_node("ImageDecoder", ["a"], ["b"], name="first_bad"),
             helper.make_node("Relu", ["b"], ["c"], name="fine_too"),
             helper.make_node("Twiddle", ["c"], ["d"], name="second_bad", domain="com.example"),
             helper.make_node("Frobnicate", ["d"], ["y"], name="third_bad", domain="com.example")]
    model = make_model(nodes, {"x": ((4,), FLOAT)}, {"y": (None, FLOAT)}, 13)
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    path = tmp_path / "bad.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UnsupportedOpsError) as info:
        convert(path, output_dir=tmp_path)
    assert [name for _, name in info.value.unsupported] == ["first_bad", "second_bad", "third_bad"]
    message = str(info.value)
    for text in ("ImageDecoder", "com.example.Twiddle", "com.example.Frobnicate", "first_bad",
                 "third_bad"):
        assert text in message


def test_garbage_file_is_a_load_error(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\xff\xfe this is not a protobuf at all \x00\x01" * 10)
    with pytest.raises(ModelLoadError, match="garbage.onnx"):
        convert(path, output_dir=tmp_path)


def test_truncated_file_is_a_load_error(tmp_path):
    path = tmp_path / "truncated.onnx"
    onnx.save(conv_model((1, 3, 8, 8)), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated.onnx.*truncated"):
        convert(path, output_dir=tmp_path)


def test_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="nowhere.onnx"):
        convert(tmp_path / "nowhere.onnx", output_dir=tmp_path)


def test_external_data_is_loaded(tmp_path):
    model = conv_model((1, 3, 8, 8))
    path = tmp_path / "external.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="weights.bin",
              size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    xml = convert(path, output_dir=tmp_path / "ir", model_name="m")
    feeds = {"x0": np.ones((1, 3, 8, 8), np.float32)}
    np.testing.assert_allclose(run_openvino(xml, feeds)["y0"],
                               run_onnxruntime(path, feeds)["y0"], rtol=1e-4, atol=1e-5)


def test_dynamic_dims_stay_dynamic(tmp_path):
    xml = convert_and_compare(conv_model(("n", 3, "h", "w")), tmp_path,
                              feeds={"x0": np.ones((2, 3, 5, 7), np.float32)}, rtol=1e-4)
    assert ir_input_shapes(xml) == {"x0": ["?", "3", "?", "?"]}


def test_input_shape_override(tmp_path):
    feeds = {"x0": np.random.default_rng(0).standard_normal((1, 3, 6, 5)).astype(np.float32)}
    xml = convert_and_compare(conv_model(("n", 3, "h", "w")), tmp_path, feeds=feeds, rtol=1e-4,
                              input_shape="[1,3,6,5]")
    assert ir_input_shapes(xml) == {"x0": ["1", "3", "6", "5"]}


def test_input_with_shape_override(tmp_path):
    feeds = {"x0": np.ones((2, 3, 4, 4), np.float32)}
    xml = convert_and_compare(conv_model(("n", 3, 4, 4)), tmp_path, feeds=feeds, rtol=1e-4,
                              input="x0[2 3 4 4]")
    assert ir_input_shapes(xml) == {"x0": ["2", "3", "4", "4"]}


def test_batch_override(tmp_path):
    feeds = {"x0": np.ones((3, 3, 4, 4), np.float32)}
    xml = convert_and_compare(conv_model(("n", 3, 4, 4)), tmp_path, feeds=feeds, rtol=1e-4,
                              batch=3)
    assert ir_input_shapes(xml) == {"x0": ["3", "3", "4", "4"]}


def test_input_shape_of_wrong_rank_is_rejected(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(conv_model((1, 3, 4, 4)), str(path))
    with pytest.raises(UserInputError, match="rank"):
        convert(path, output_dir=tmp_path, input_shape="[1,3,4]")


def test_input_at_internal_tensor_cuts_the_model_there(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Neg", ["t"], ["y"])]
    path = tmp_path / "m.onnx"
    onnx.save(make_model(nodes, {"x": ((2,), FLOAT)}, {"y": (None, FLOAT)}, 13), str(path))
    xml = convert(path, output_dir=tmp_path, input="t")
    assert ir_input_shapes(xml) == {"t": ["2"]}  # the Relu and x are gone
    t = np.float32([-1.5, 2.0])
    np.testing.assert_array_equal(run_openvino(xml, {"t": t})["y"], -t)
    with pytest.raises(UserInputError, match="'nope'"):
        convert(path, output_dir=tmp_path, input="nope")


def test_frozen_input_value(tmp_path):
    node = helper.make_node("Add", ["x", "y"], ["z"])
    model = make_model([node], {"x": ((3,), FLOAT), "y": ((3,), FLOAT)}, {"z": (None, FLOAT)}, 13)
    onnx.save(model, str(tmp_path / "m.onnx"))
    xml = convert(tmp_path / "m.onnx", output_dir=tmp_path, input=["x", "y[3]->[1 2 3]"])
    assert list(ir_input_shapes(xml)) == ["x"]
    out = run_openvino(xml, {"x": np.zeros(3, np.float32)})["z"]
    np.testing.assert_array_equal(out, [1, 2, 3])


def test_output_cut_drops_what_follows(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["t"], name="relu"),
             helper.make_node("Sigmoid", ["t"], ["u"], name="sigmoid"),
             helper.make_node("NonZero", ["u"], ["y"], name="unsupported")]
    model = make_model(nodes, {"x": ((2, 3), FLOAT)}, {"y": (None, onnx.TensorProto.INT64)}, 13)
    onnx.save(model, str(tmp_path / "m.onnx"))
    xml = convert(tmp_path / "m.onnx", output_dir=tmp_path, output="u")
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    result = run_openvino(xml, {"x": x})
    np.testing.assert_allclose(result["u"], 1 / (1 + np.exp(-np.maximum(x, 0))), rtol=1e-6)


def test_output_cut_with_unknown_name(tmp_path):
    onnx.save(single_op("Relu", [(2,)], 13), str(tmp_path / "m.onnx"))
    with pytest.raises(UserInputError, match="nope"):
        convert(tmp_path / "m.onnx", output_dir=tmp_path, output="nope")


def test_names_and_layout(tmp_path):
    from converter.frontends.onnx import load
    from converter.options import ConversionOptions

    path = tmp_path / "m.onnx"
    nodes = [helper.make_node("Relu", ["data"], ["hidden"], name="act"),
             helper.make_node("Neg", ["hidden"], ["prob"], name="neg")]
    onnx.save(make_model(nodes, {"data": ((1, 2), FLOAT)}, {"prob": (None, FLOAT)}, 13), str(path))
    graph = load(ConversionOptions(input_model=str(path)))
    assert graph.source_layout == "NCHW"
    assert [p.name for p in graph.parameters] == ["data"]
    assert graph.parameters[0].outputs[0].element_type == "f32"
    result = graph.results[0]
    assert result.inputs[0].node.name == "neg" and "prob" in result.inputs[0].info.names
