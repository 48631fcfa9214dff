"""Shared by the ONNX frontend tests: build small ONNX models, convert them, and compare
OpenVINO on the IR with onnxruntime on the source."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from converter import convert
from modelzoo.runtime import run_onnxruntime, run_openvino

FLOAT = TensorProto.FLOAT


def make_model(nodes: list[onnx.NodeProto], inputs: dict[str, tuple], outputs: dict[str, tuple],
               opset: int, initializers: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    """inputs/outputs: name -> (shape or None, ONNX element type); shape dims may be str."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(n, t, s) for n, (s, t) in inputs.items()],
        [helper.make_tensor_value_info(n, t, s) for n, (s, t) in outputs.items()],
        [numpy_helper.from_array(v, n) for n, v in (initializers or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset <= 18 else 10
    return model


def single_op(op_type: str, shapes: list[tuple], opset: int, out_rank: int | None = None,
              initializers: dict[str, np.ndarray] | None = None, outputs_count: int = 1,
              out_type: int = FLOAT, **attrs) -> onnx.ModelProto:
    """One node reading float inputs x0, x1, ... of `shapes`, then the initializers (in the
    order given), writing y0, y1, ...; output shapes are left to inference."""
    names = [f"x{i}" for i in range(len(shapes))] + list(initializers or {})
    outputs = [f"y{i}" for i in range(outputs_count)]
    node = helper.make_node(op_type, names, outputs, name=f"{op_type.lower()}_node", **attrs)
    return make_model([node], {f"x{i}": (s, FLOAT) for i, s in enumerate(shapes)},
                      {o: (None, out_type) for o in outputs}, opset, initializers)


def random_feeds(model: onnx.ModelProto, seed: int = 0,
                 shapes: dict[str, tuple] | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    initialized = {t.name for t in model.graph.initializer}
    feeds = {}
    for info in model.graph.input:
        if info.name in initialized:
            continue
        dims = [d.dim_value for d in info.type.tensor_type.shape.dim]
        shape = (shapes or {}).get(info.name) or dims
        dtype = onnx.helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type)
        feeds[info.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def convert_and_compare(model: onnx.ModelProto, tmp_path: Path, feeds: dict | None = None,
                        rtol: float = 1e-5, atol: float = 1e-5, **flags) -> Path:
    """Convert `model`, run both sides on the same inputs, assert the outputs agree."""
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    feeds = random_feeds(model) if feeds is None else feeds
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model", **flags)
    expected = run_onnxruntime(path, feeds)
    actual = run_openvino(xml, feeds)
    for name, value in expected.items():
        assert name in actual, f"output {name!r} missing from the IR (has {sorted(actual)})"
        assert actual[name].shape == value.shape, (name, actual[name].shape, value.shape)
        np.testing.assert_allclose(actual[name], value, rtol=rtol, atol=atol, err_msg=name)
    return xml


def ir_layer_types(xml: Path) -> list[str]:
    from lxml import etree

    return [layer.get("type") for layer in etree.parse(str(xml)).iter("layer")]
