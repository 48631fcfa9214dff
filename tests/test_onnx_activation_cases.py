"""Activations beyond the single-node cases test_onnx_elementwise_ops.py runs: the
function-expanded node cases of the activation operators (their bodies through CastLike,
Where, Exp...), PRelu's per-channel slope before opset 7 (PyTorch's multi-parameter PReLU
exports), and the random operators, which fail at conversion with their reason."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from bench.conformance_cases import collect
from bench.conformance_check import check
from converter import convert
from converter.errors import ConversionError
from modelzoo.runtime import run_openvino

from onnx_conformance_cases import assert_conforms, case_id, cases_of
from onnx_testing import convert_and_compare, make_model, single_op

ACTIVATIONS = ("Elu", "Selu", "Celu", "Relu", "LeakyRelu", "HardSigmoid", "PRelu", "Softplus",
               "Softsign", "Swish", "Gelu", "Shrink", "ThresholdedRelu")
EXPANDED = [case for case in cases_of(*ACTIVATIONS) if "_expanded" in case.name]
RANDOM = ("Bernoulli", "Multinomial", "RandomUniform", "RandomUniformLike", "RandomNormal",
          "RandomNormalLike")


@pytest.mark.parametrize("case", EXPANDED, ids=case_id)
def test_expanded_activation_case(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", collect(("pytorch-converted",), r"^test_PReLU"), ids=case_id)
def test_pytorch_prelu(case):
    outcome = check(case, "ours")
    assert outcome.passed, f"{case.name} failed at {outcome.stage}: {outcome.error}"


def _run(tmp_path, model: onnx.ModelProto, feeds: dict) -> dict:
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return run_openvino(convert(path, output_dir=tmp_path / "ir", model_name="model"), feeds)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 4), (2, 3)])
def test_prelu_slope_per_channel_before_opset_7(tmp_path, shape):
    slope = np.float32([0.1, -2.0, 0.5])
    model = single_op("PRelu", [shape], 6, initializers={"slope": slope})
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    channel = slope.reshape([3] + [1] * (len(shape) - 2))
    np.testing.assert_allclose(_run(tmp_path, model, {"x0": x})["y0"],
                               np.where(x < 0, x * channel, x), rtol=1e-6)


def test_prelu_slope_broadcasts_numpy_style_from_opset_7(tmp_path):
    """A [3] slope on [2, 3, 3] data applies along the last axis from opset 7 on."""
    convert_and_compare(single_op("PRelu", [(2, 3, 3)], 9,
                                  initializers={"slope": np.float32([0.1, -2.0, 0.5])}), tmp_path)


def _random_node(op: str) -> onnx.ModelProto:
    like = op.endswith("Like") or op in ("Bernoulli", "Multinomial")
    node = helper.make_node(op, ["x"] if like else [], ["y"], name="draw",
                            **({} if like else {"shape": [2, 3]}))
    return make_model([node], {"x": ((2, 3), TensorProto.FLOAT)},
                      {"y": (None, TensorProto.FLOAT)}, 22)


@pytest.mark.parametrize("op", RANDOM)
def test_random_operators_are_refused_with_their_reason(tmp_path, op):
    path = tmp_path / "model.onnx"
    onnx.save(_random_node(op), str(path))
    with pytest.raises(ConversionError, match="draws random numbers") as info:
        convert(path, output_dir=tmp_path / "ir", model_name="model")
    assert "draw" in str(info.value) and op in str(info.value)


@pytest.mark.parametrize("case", cases_of("Bernoulli"), ids=case_id)
def test_bernoulli_cases_fail_at_conversion(case):
    outcome = check(case, "ours")
    assert not outcome.passed and outcome.stage == "convert", outcome
    assert "draws random numbers" in outcome.error
