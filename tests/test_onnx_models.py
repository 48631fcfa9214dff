"""End to end: a real CNN from the onnx wheel's backend test data, with seeded random weights,
converted and compared with onnxruntime."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from converter import convert
from modelzoo.runtime import run_onnxruntime, run_openvino
from onnx_testing import ir_layer_types

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def weight_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Shapes of every weight: initializers, and the ConstantOfShape outputs the light models
    fill with one repeated value (their shapes are initializers too)."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    shapes = {n: tuple(v.shape) for n, v in inits.items()}
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape":
            shapes[node.output[0]] = tuple(int(d) for d in inits[node.input[0]])
    return shapes


def bn_value(role: int, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """BatchNormalization's scale (1), bias (2), mean (3) and a positive variance (4)."""
    noise = rng.standard_normal(shape) * 0.1
    value = {1: 1 + noise, 2: noise, 3: noise, 4: 1 + np.abs(noise)}[role]
    return value.astype(np.float32)


def with_random_weights(model: onnx.ModelProto, seed: int) -> onnx.ModelProto:
    """The same network with He-scaled random weights and small random biases, so that
    activations stay of order one through every layer (integer tensors, shapes, are kept)."""
    rng = np.random.default_rng(seed)
    nodes = [n for n in model.graph.node if n.op_type != "ConstantOfShape"]
    used = {i for n in nodes for i in n.input}
    shapes = weight_shapes(model)
    kept = [t for t in model.graph.initializer
            if t.name in used and t.data_type != onnx.TensorProto.FLOAT]
    initializers = list(kept)
    bn_roles = {n.input[i]: i for n in nodes if n.op_type == "BatchNormalization"
                for i in range(1, 5)}
    for name in sorted(used & set(shapes) - {t.name for t in kept}):
        shape = shapes[name]
        if name in bn_roles:
            value = bn_value(bn_roles[name], shape, rng)
            initializers.append(numpy_helper.from_array(value, name))
            continue
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 0
        scale = np.sqrt(2.0 / fan_in) if fan_in else 0.05
        value = (rng.standard_normal(shape) * scale).astype(np.float32)
        initializers.append(numpy_helper.from_array(value, name))
    inputs = [i for i in model.graph.input if i.name in used and i.name not in shapes]
    graph = helper.make_graph(nodes, model.graph.name, inputs, list(model.graph.output),
                              initializers)
    rebuilt = helper.make_model(graph, opset_imports=list(model.opset_import))
    rebuilt.ir_version = model.ir_version
    return rebuilt


def convert_light_model(name: str, tmp_path: Path, seed: int) -> tuple[Path, Path]:
    model = with_random_weights(onnx.load(str(LIGHT / f"light_{name}.onnx")), seed)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path, convert(path, output_dir=tmp_path / "ir", model_name=name)


def compare(path: Path, xml: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    expected = run_onnxruntime(path, feeds)
    actual = run_openvino(xml, feeds)
    for name, value in expected.items():
        assert actual[name].shape == value.shape
        assert value.max() > 5 * value.min()  # the weights give a non-trivial distribution
        np.testing.assert_allclose(actual[name], value, rtol=1e-4, atol=1e-7)
    return expected


def test_squeezenet_matches_onnxruntime(tmp_path):
    path, xml = convert_light_model("squeezenet", tmp_path, seed=7)
    image = np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32)
    expected = compare(path, xml, {"data_0": image})
    assert expected["softmaxout_1"].shape == (1, 1000, 1, 1)
    types = ir_layer_types(xml)
    assert types.count("Convolution") == 26 and "SoftMax" in types and "Dropout" not in types


def test_shufflenet_matches_onnxruntime(tmp_path):
    """Batch normalization, grouped convolutions, the channel shuffle (Reshape, Transpose),
    Sum, AveragePool and Gemm."""
    path, xml = convert_light_model("shufflenet", tmp_path, seed=11)
    image = np.random.default_rng(5).standard_normal((1, 3, 224, 224)).astype(np.float32)
    compare(path, xml, {"gpu_0/data_0": image})
    types = ir_layer_types(xml)
    assert "GroupConvolution" in types and "Transpose" in types
