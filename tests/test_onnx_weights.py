"""Reading ONNX files at the wire level (converter.frontends.onnx.weights): large weights stay
on disk until the translator reads them into their arrays, once; external data files work and
may not point outside the model's folder."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from converter import convert
from converter.errors import ModelLoadError
from converter.frontends.onnx.model import read_model, tensor_value
from converter.frontends.onnx.weights import EXTERNALIZE_FROM_BYTES, load_model
from modelzoo.runtime import run_openvino


def conv_model(seed: int = 0) -> onnx.ModelProto:
    """x -> Conv(W big, b small) -> Mul(per-channel) -> y, with a bool and an f16 initializer
    read by nothing that matters (types other than f32 through the same path)."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)      # 4608 bytes: on disk
    bias = rng.standard_normal(16).astype(np.float32)                     # 64 bytes: inline
    scale = rng.standard_normal((1, 16, 1, 1)).astype(np.float32)
    half = rng.standard_normal((40, 40)).astype(np.float16)               # 3200 bytes: inline
    nodes = [helper.make_node("Conv", ["x", "W", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["c", "s"], ["y"])]
    graph = helper.make_graph(
        nodes, "weights",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 10, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 10, 10])],
        [numpy_helper.from_array(v, n) for n, v in
         (("W", weights), ("b", bias), ("s", scale), ("unused_half", half))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_large_initializers_stay_on_disk_and_read_back_equal(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(conv_model(), str(path))
    loaded = load_model(path)
    original = onnx.load(str(path))
    stored = {t.name: t.data_location for t in loaded.graph.initializer}
    assert stored == {"W": TensorProto.EXTERNAL, "b": TensorProto.DEFAULT,
                      "s": TensorProto.DEFAULT, "unused_half": TensorProto.DEFAULT}
    assert EXTERNALIZE_FROM_BYTES <= 16 * 8 * 3 * 3 * 4
    for ours, theirs in zip(loaded.graph.initializer, original.graph.initializer):
        value = tensor_value(ours)
        assert value.dtype == numpy_helper.to_array(theirs).dtype
        np.testing.assert_array_equal(value, numpy_helper.to_array(theirs))
    assert list(loaded.graph.node) == list(original.graph.node)
    assert (loaded.ir_version, list(loaded.opset_import)) == \
        (original.ir_version, list(original.opset_import))


def test_conversion_matches_the_source(tmp_path):
    from modelzoo.runtime import run_onnxruntime

    path = tmp_path / "model.onnx"
    onnx.save(conv_model(), str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    feeds = {"x": np.random.default_rng(1).standard_normal((1, 8, 10, 10)).astype(np.float32)}
    np.testing.assert_allclose(run_openvino(xml, feeds)["y"], run_onnxruntime(path, feeds)["y"],
                               rtol=1e-5, atol=1e-5)


def test_external_data_files_are_read(tmp_path):
    from modelzoo.runtime import run_onnxruntime

    folder = tmp_path / "exported"
    folder.mkdir()
    path = folder / "model.onnx"
    onnx.save(conv_model(), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.data", size_threshold=0)
    assert (folder / "weights.data").is_file()
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    feeds = {"x": np.ones((1, 8, 10, 10), np.float32)}
    np.testing.assert_allclose(run_openvino(xml, feeds)["y"], run_onnxruntime(path, feeds)["y"],
                               rtol=1e-5, atol=1e-5)


def test_missing_external_data_names_the_file(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(conv_model(), str(path), save_as_external_data=True, location="weights.data",
              size_threshold=0)
    (tmp_path / "weights.data").unlink()
    with pytest.raises(ModelLoadError) as info:
        convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert "weights.data" in str(info.value)


def test_external_data_outside_the_model_folder_is_refused(tmp_path):
    model = conv_model()
    weights = next(t for t in model.graph.initializer if t.name == "W")
    (tmp_path / "secret.bin").write_bytes(numpy_helper.to_array(weights).tobytes())
    onnx.external_data_helper.set_external_data(weights, location="../secret.bin")
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save(model, str(folder / "model.onnx"))
    with pytest.raises(ModelLoadError) as info:
        read_model(str(folder / "model.onnx"))
    assert "outside the model's folder" in str(info.value)


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9])
def test_truncated_files_are_load_errors(tmp_path, keep):
    path = tmp_path / "model.onnx"
    onnx.save(conv_model(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ModelLoadError) as info:
        read_model(str(path))
    assert "model.onnx" in str(info.value)
