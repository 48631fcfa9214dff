"""Einsum and Trilu of the ONNX frontend: the onnx wheel's node cases, plus what they miss
(implicit output terms, constant folding, a run-time diagonal offset, clear errors)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from converter import convert
from converter.errors import UserInputError
from converter.graph import Graph
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import ir_layer_types, make_model

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


@pytest.mark.parametrize("case", cases_of("Einsum", "Trilu"), ids=case_id)
def test_node_case(case):
    assert_conforms(case)


def _convert_run(tmp_path, model, feeds):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    return xml, run_openvino(xml, feeds)


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk", [(2, 3), (3, 4)]),            # implicit output: "ik"
    ("ba,ab", [(2, 3), (3, 2)]),            # implicit output: "" (a full contraction)
    ("...j,j", [(2, 3, 4), (4,)]),          # implicit output with an ellipsis: "..."
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
])
def test_einsum_equations(tmp_path, equation, shapes):
    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(len(shapes))]
    node = helper.make_node("Einsum", names, ["y"], equation=equation)
    model = make_model([node], {n: (s, FLOAT) for n, s in zip(names, shapes)},
                       {"y": (None, FLOAT)}, 12)
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in zip(names, shapes)}
    _, actual = _convert_run(tmp_path, model, feeds)
    expected = np.einsum(equation, *feeds.values())
    np.testing.assert_allclose(actual["y"], expected, rtol=1e-5, atol=1e-5)


def test_einsum_shape_inference():
    graph = Graph()
    a = graph.parameter("a", (2, 3, 5, 4), "f32")
    b = graph.parameter("b", (5, 4, 6), "f32")
    out = graph.op("Einsum", a, b, equation="...ij,ijk->...k")
    assert out.shape == (2, 3, 6)
    dynamic = graph.parameter("c", (-1, 4), "f32")
    assert graph.op("Einsum", dynamic, equation="ij->ji").shape == (4, -1)


def test_einsum_of_constants_folds(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    node = helper.make_node("Einsum", ["x", "x"], ["e"], equation="ij,ij->i")
    add = helper.make_node("Add", ["e", "z"], ["y"])
    model = make_model([node, add], {"z": ((2,), FLOAT)}, {"y": (None, FLOAT)}, 12,
                       initializers={"x": x})
    xml, actual = _convert_run(tmp_path, model, {"z": np.zeros(2, np.float32)})
    assert "Einsum" not in ir_layer_types(xml)
    np.testing.assert_allclose(actual["y"], np.einsum("ij,ij->i", x, x))


def test_einsum_with_wrong_input_count_names_the_node(tmp_path):
    node = helper.make_node("Einsum", ["x"], ["y"], equation="ij,jk->ik", name="bad_einsum")
    model = make_model([node], {"x": ((2, 2), FLOAT)}, {"y": (None, FLOAT)}, 12)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match="bad_einsum.*2 input term"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [-2, 0, 1, 7])
def test_trilu_runtime_k_and_dynamic_shape(tmp_path, upper, k):
    """k fed at run time and a batch dimension left dynamic: both stay run-time inputs."""
    node = helper.make_node("Trilu", ["x", "k"], ["y"], upper=upper)
    model = make_model([node], {"x": (["n", 3, 5], FLOAT), "k": ((), INT64)},
                       {"y": (None, FLOAT)}, 14)
    x = np.random.default_rng(1).standard_normal((2, 3, 5)).astype(np.float32)
    _, actual = _convert_run(tmp_path, model, {"x": x, "k": np.array(k, np.int64)})
    expected = np.triu(x, k) if upper else np.tril(x, k)
    np.testing.assert_array_equal(actual["y"], expected)


def test_trilu_without_k_keeps_the_main_diagonal(tmp_path):
    node = helper.make_node("Trilu", ["x"], ["y"], upper=0)
    model = make_model([node], {"x": ((4, 4), FLOAT)}, {"y": (None, FLOAT)}, 14)
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    _, actual = _convert_run(tmp_path, model, {"x": x})
    np.testing.assert_array_equal(actual["y"], np.tril(x))


def test_trilu_of_a_vector_is_refused_by_name(tmp_path):
    node = helper.make_node("Trilu", ["x"], ["y"], name="flat_trilu")
    model = make_model([node], {"x": ((4,), FLOAT)}, {"y": (None, FLOAT)}, 14)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    with pytest.raises(UserInputError, match="flat_trilu.*rank 2 or more"):
        convert(path, output_dir=tmp_path / "ir", model_name="model")


def test_trilu_of_a_constant_folds(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    trilu = helper.make_node("Trilu", ["x", "k"], ["t"], upper=1)
    add = helper.make_node("Add", ["t", "z"], ["y"])
    model = make_model([trilu, add], {"z": ((3, 4), FLOAT)}, {"y": (None, FLOAT)}, 14,
                       initializers={"x": x, "k": np.array(1, np.int64)})
    xml, actual = _convert_run(tmp_path, model, {"z": np.zeros((3, 4), np.float32)})
    assert "Select" not in ir_layer_types(xml)
    np.testing.assert_array_equal(actual["y"], np.triu(x, 1))
