"""The optimizers of ai.onnx.preview.training (Adagrad, Adam, Momentum): the onnx wheel's node
cases, and against onnx's reference implementation what they leave out (the first update,
T = 0, without bias correction; several tensors at once; nesterov; norm_coefficient_post; a
model of constants, folded at conversion)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from converter import convert
from converter.errors import ConversionError
from modelzoo.runtime import run_openvino

from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import ir_layer_types

DOMAIN = "ai.onnx.preview.training"
STATES = {"Adagrad": ("H",), "Momentum": ("V",), "Adam": ("V", "H")}


@pytest.mark.parametrize("case", cases_of("Adagrad", "Adam", "Momentum"), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _optimizer_model(op: str, shapes: list[tuple[int, ...]], constants: dict | None = None,
                     **attrs) -> onnx.ModelProto:
    """One optimizer node updating tensors of `shapes`: inputs R, T, X*, G*, then the states;
    `constants` turns the named inputs into initializers."""
    groups = ["X", "G", *STATES[op]]
    names = ["R", "T"] + [f"{g}{i}" for g in groups for i in range(len(shapes))]
    types = {"R": ((), TensorProto.FLOAT), "T": ((), TensorProto.INT64)}
    types |= {f"{g}{i}": (shape, TensorProto.FLOAT) for g in groups
              for i, shape in enumerate(shapes)}
    outputs = [f"{g}{i}_new" for g in ["X", *STATES[op]] for i in range(len(shapes))]
    constants = constants or {}
    node = helper.make_node(op, names, outputs, name="update", domain=DOMAIN, **attrs)
    graph = helper.make_graph(
        [node], "optimizer",
        [helper.make_tensor_value_info(n, types[n][1], types[n][0]) for n in names
         if n not in constants],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, n) for n, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(DOMAIN, 1)])
    model.ir_version = 8
    return model


def _feeds(op: str, shapes, t: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    feeds = {"R": np.array(0.1, np.float32), "T": np.array(t, np.int64)}
    for g in ["X", "G", *STATES[op]]:
        for i, shape in enumerate(shapes):
            value = rng.standard_normal(shape).astype(np.float32)
            feeds[f"{g}{i}"] = np.abs(value) if g == "H" else value
    return feeds


def _compare(tmp_path, model: onnx.ModelProto, feeds: dict, constants: dict | None = None):
    """Our IR on OpenVINO against onnx's reference implementation."""
    expected = ReferenceEvaluator(model).run(None, {**feeds, **(constants or {})})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    actual = run_openvino(xml, feeds)
    for info, value in zip(model.graph.output, expected):
        np.testing.assert_allclose(actual[info.name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=info.name)
    return xml


@pytest.mark.parametrize("t", [0, 3])
@pytest.mark.parametrize("op,attrs", [
    ("Adagrad", {"decay_factor": 0.1, "epsilon": 1e-5, "norm_coefficient": 0.01}),
    ("Momentum", {"alpha": 0.9, "beta": 0.5, "mode": "standard", "norm_coefficient": 0.02}),
    ("Momentum", {"alpha": 0.8, "beta": 0.3, "mode": "nesterov", "norm_coefficient": 0.0}),
    ("Adam", {"alpha": 0.9, "beta": 0.99, "epsilon": 1e-3, "norm_coefficient": 0.01,
              "norm_coefficient_post": 0.05}),
])
def test_first_and_later_updates_of_several_tensors(tmp_path, op, attrs, t):
    shapes = [(3,), (2, 4)]
    _compare(tmp_path, _optimizer_model(op, shapes, **attrs), _feeds(op, shapes, t))


@pytest.mark.parametrize("op", ["Adagrad", "Momentum", "Adam"])
def test_constant_inputs_fold(tmp_path, op):
    shapes = [(4,)]
    constants = _feeds(op, shapes, 2)
    attrs = {"Momentum": {"alpha": 0.9, "beta": 0.5, "mode": "standard",
                          "norm_coefficient": 0.01}}.get(op, {})
    model = _optimizer_model(op, shapes, constants=constants, **attrs)
    xml = _compare(tmp_path, model, {}, constants)
    assert set(ir_layer_types(xml)) <= {"Const", "Result"}


def _convert(tmp_path, model: onnx.ModelProto):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return convert(path, output_dir=tmp_path / "ir", model_name="model")


def test_inputs_that_do_not_group_are_named(tmp_path):
    model = _optimizer_model("Adagrad", [(2,)], decay_factor=0.1)
    model.graph.node[0].input.append("X0")
    with pytest.raises(ConversionError, match=r"R, T and 3 inputs per updated tensor") as info:
        _convert(tmp_path, model)
    assert "update" in str(info.value)


def test_missing_required_attribute_is_named(tmp_path):
    model = _optimizer_model("Momentum", [(2,)], beta=0.1, mode="standard", norm_coefficient=0.0)
    with pytest.raises(ConversionError, match="lacks its attribute alpha"):
        _convert(tmp_path, model)


def test_unknown_momentum_mode_is_named(tmp_path):
    model = _optimizer_model("Momentum", [(2,)], alpha=0.9, beta=0.1, mode="heavy")
    with pytest.raises(ConversionError, match="mode 'heavy'"):
        _convert(tmp_path, model)
