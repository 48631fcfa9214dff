"""The deliberately broken IRs of `ir_mutations` and the ovc-made IRs of `ovc_irs`: each
mutation leaves an IR OpenVINO loads and compiles but that computes something else, and ovc's
IR with the Model Optimizer's preprocessing computes what the source model does on
(reverse(x) - mean) / scale."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import converter
from converter.ir.validator import validate_ir
from ir_mutations import (EditableIR, cast_output, double_mean, first_convolution, mean_subtract,
                          perturb_first_conv, swap_input_channels)
from ovc_irs import ovc_ir

PRECISIONS = ("FP32", "FP16")
INPUT_SHAPE = (1, 3, 12, 12)
MEAN = (123.675, 116.28, 103.53)
SCALE = (58.395, 57.12, 57.375)
PREPROCESSING = {"mean_values": list(MEAN), "scale_values": list(SCALE),
                 "reverse_input_channels": True}
CHANGING = {"swap_input_channels": swap_input_channels, "double_mean": double_mean,
            "perturb_first_conv": perturb_first_conv}


def write_two_conv_onnx(path: Path, seed: int = 0) -> Path:
    """x [1,3,12,12] -> Conv 3x3 (8) -> Relu -> Conv 1x1 (4) -> y, seeded weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {"w1": rng.normal(0, 0.3, (8, 3, 3, 3)), "b1": rng.normal(0, 0.1, 8),
               "w2": rng.normal(0, 0.5, (4, 8, 1, 1)), "b2": rng.normal(0, 0.1, 4)}
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c1"], ["r1"]),
         helper.make_node("Conv", ["r1", "w2", "b2"], ["y"], kernel_shape=[1, 1])],
        "two_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, *INPUT_SHAPE[2:]])],
        [numpy_helper.from_array(value.astype(np.float32), name) for name, value in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def raw_image(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, INPUT_SHAPE).astype(np.float32)


def run_ir(xml: Path, x: np.ndarray) -> np.ndarray:
    """The IR's first output on `x`, computed in f32 whatever the IR's precision."""
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(xml)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(x)[compiled.outputs[0]]


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def mo_preprocessed(x: np.ndarray) -> np.ndarray:
    """What `--reverse_input_channels --mean_values --scale_values` feed the model with."""
    mean = np.asarray(MEAN, np.float32).reshape(1, 3, 1, 1)
    scale = np.asarray(SCALE, np.float32).reshape(1, 3, 1, 1)
    return (x[:, ::-1] - mean) / scale


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory) -> Path:
    return write_two_conv_onnx(tmp_path_factory.mktemp("mutations") / "two_conv.onnx")


@pytest.fixture(scope="module", params=PRECISIONS)
def ir(request, onnx_model) -> Path:
    out = onnx_model.parent / request.param
    return converter.convert(onnx_model, output_dir=out, model_name="two_conv",
                             data_type=request.param, **PREPROCESSING)


def test_the_converted_ir_is_what_the_mutations_expect(ir, onnx_model):
    """A Convolution with constant weights and a mean Subtract behind the Parameter, and an IR
    that agrees with onnxruntime: so a difference below is the mutation's doing."""
    edited = EditableIR.read(ir)
    assert edited.weight_const(first_convolution(edited)) is not None
    assert mean_subtract(edited) is not None
    x = raw_image()
    np.testing.assert_allclose(run_ir(ir, x), run_onnx(onnx_model, mo_preprocessed(x)), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("mutation", sorted(CHANGING))
def test_each_mutation_loads_and_changes_the_result(ir, tmp_path, mutation):
    before = ir.read_bytes(), ir.with_suffix(".bin").read_bytes()
    mutated = CHANGING[mutation](ir, tmp_path / "mutated" / "two_conv.xml")
    assert mutated.is_file() and mutated.with_suffix(".bin").is_file()
    assert (ir.read_bytes(), ir.with_suffix(".bin").read_bytes()) == before, "the source IR changed"
    assert validate_ir(mutated) == []  # only the numbers are wrong, never the structure
    x = raw_image()
    original, changed = run_ir(ir, x), run_ir(mutated, x)
    assert changed.shape == original.shape
    assert not np.allclose(changed, original, rtol=1e-4, atol=1e-5), f"{mutation} changed nothing"


def test_perturbing_scales_the_first_convolution_weights_only(ir, tmp_path):
    mutated = EditableIR.read(perturb_first_conv(ir, tmp_path / "p.xml", factor=1.01))
    source = EditableIR.read(ir)
    old = source.const_value(source.weight_const(first_convolution(source)))
    new = mutated.const_value(mutated.weight_const(first_convolution(mutated)))
    assert new.dtype == old.dtype
    np.testing.assert_allclose(new.astype(np.float64), old.astype(np.float64) * 1.01, rtol=2e-3)
    second = lambda edited: edited.const_value(edited.weight_const(edited.layers("Convolution")[1]))  # noqa: E731
    np.testing.assert_array_equal(second(mutated), second(source))


def test_a_fused_mean_is_subtracted_again_after_the_parameter(onnx_model, tmp_path):
    """An IR without a mean Subtract (as when the mean is folded into the first convolution)
    gets one of its recorded mean_values right after the Parameter. Fusing is off so that the
    channel reversal stays a Gather, after which the mean in the model's channel order belongs
    (with fusing on, the reversal folds into the convolution's weights and the mean Subtract
    reads the Parameter with the mean's channels reversed)."""
    ir = converter.convert(onnx_model, output_dir=tmp_path, model_name="two_conv",
                           disable_fusing=True, **PREPROCESSING)
    edited = EditableIR.read(ir)
    subtract, _ = mean_subtract(edited)
    feeding, feeding_port = edited.producer(subtract, "0")
    for edge in edited.consumer_edges(subtract, "2"):  # bypass the Subtract: no mean left
        edge.set("from-layer", feeding.get("id"))
        edge.set("from-port", feeding_port)
    edges = edited.root.find("edges")
    for edge in [e for e in edited.edges() if e.get("to-layer") == subtract.get("id")]:
        edges.remove(edge)
    subtract.getparent().remove(subtract)
    without_mean = edited.write(tmp_path / "no_mean" / "two_conv.xml")
    mutated = double_mean(without_mean, tmp_path / "mutated" / "two_conv.xml")
    x = raw_image()
    np.testing.assert_allclose(run_ir(mutated, x), run_ir(ir, x), rtol=1e-4, atol=1e-4)


def test_cast_output_gives_int32_under_the_same_name(ir, tmp_path):
    import openvino as ov

    mutated = cast_output(ir, tmp_path / "cast" / "two_conv.xml")
    assert validate_ir(mutated) == []
    model = ov.Core().read_model(str(mutated))
    assert model.outputs[0].get_element_type() == ov.Type.i32
    assert "y" in model.outputs[0].get_names()
    x = raw_image()
    original, cast = run_ir(ir, x), run_ir(mutated, x)
    assert cast.dtype == np.int32 and cast.shape == original.shape
    assert np.abs(cast - original).max() < 1.0  # the same values, their fractions dropped
    assert not np.allclose(cast, original, rtol=1e-4, atol=1e-5)


def test_ovc_ir_applies_reverse_then_mean_then_scale(onnx_model, tmp_path):
    xml = ovc_ir(onnx_model, tmp_path / "ovc" / "two_conv.xml", mean=MEAN, scale=SCALE,
                 reverse=True, layout="NCHW", input_shape=INPUT_SHAPE)
    x = raw_image()
    np.testing.assert_allclose(run_ir(xml, x), run_onnx(onnx_model, mo_preprocessed(x)),
                               rtol=1e-4, atol=1e-4)


def test_ovc_ir_without_preprocessing_is_the_plain_model(onnx_model, tmp_path):
    xml = ovc_ir(onnx_model, tmp_path / "plain" / "two_conv.xml")
    x = raw_image() / 255
    np.testing.assert_allclose(run_ir(xml, x), run_onnx(onnx_model, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mutation", sorted(CHANGING))
def test_ours_agrees_with_ovc_and_each_mutation_does_not(ir, onnx_model, tmp_path, mutation):
    ovc = ovc_ir(onnx_model, tmp_path / "ovc" / "two_conv.xml", mean=MEAN, scale=SCALE, reverse=True)
    mutated = CHANGING[mutation](ir, tmp_path / "mutated" / "two_conv.xml")
    x = raw_image()
    reference = run_ir(ovc, x)
    # f16 weights move this model's outputs by ~4e-4 of their range, a 1% weight change by
    # ~5e-3 (under the manifest's FP16 tolerance of 1e-2: that one only an FP32 check catches)
    tolerance = 1e-3 * float(np.ptp(reference))
    assert np.abs(run_ir(ir, x) - reference).max() <= tolerance
    assert np.abs(run_ir(mutated, x) - reference).max() > tolerance
