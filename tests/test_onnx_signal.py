"""Signal processing ops of the ONNX frontend: the window functions, DFT, STFT, MelWeightMatrix
and Det, on the
onnx wheel's node cases and on what those cases miss (constant folding of OpenVINO's DFT ops,
lengths past the MatMul limit, padding to dft_length, clear errors)."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from bench.conformance_check import check
from converter import convert
from converter.errors import ConversionError
from converter.graph import Graph
from converter.ops import spec
from modelzoo.runtime import run_openvino
from tests.onnx_conformance_cases import assert_conforms, case_id, cases_of
from tests.onnx_testing import ir_layer_types, make_model

# Their expected outputs were computed by numpy in complex64: imaginary parts that are exactly 0
# carry up to 4e-6 of float32 roundoff there, beyond the cases' atol of 1e-7 (our transform
# gives the exact 0). Checked below against float64 numpy instead.
ROUNDOFF_REFERENCE = ("test_dft_inverse", "test_dft_inverse_opset19")
# The function expansions of the windows use no op of this family (they pass on their own).
SIGNAL_CASES = cases_of("HannWindow", "HammingWindow", "BlackmanWindow", "DFT", "STFT", "Det",
                        "MelWeightMatrix", exclude=ROUNDOFF_REFERENCE)


@pytest.mark.parametrize("case", SIGNAL_CASES, ids=case_id)
def test_node_case_conforms(case):
    assert_conforms(case)


@pytest.mark.parametrize("case", cases_of("DFT", exclude=tuple(
    c.name for c in cases_of("DFT") if c.name not in ROUNDOFF_REFERENCE)), ids=case_id)
def test_inverse_dft_matches_float64_reference(case, tmp_path):
    """The two cases left out above convert and match the exact inverse transform."""
    outcome = check(case, "ours")
    assert outcome.stage == "compare", (outcome.stage, outcome.error)
    path = tmp_path / "model.onnx"
    path.write_bytes(case.model_bytes)
    inputs, _ = case.data_sets[0]
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    actual = run_openvino(xml, inputs)["y"]
    x = inputs["x"][0, ..., 0] + 1j * inputs["x"][0, ..., 1]
    exact = np.fft.ifft(x.astype(np.complex128), axis=0)
    np.testing.assert_allclose(actual[0, ..., 0], exact.real, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(actual[0, ..., 1], exact.imag, rtol=1e-5, atol=1e-6)


def _dft_model(shape, opset=17, dft_length=None, **attrs):
    inputs = ["x"] + (["n"] if dft_length is not None else [])
    node = helper.make_node("DFT", inputs, ["y"], name="dft", **attrs)
    inits = {"n": np.array(dft_length, np.int64)} if dft_length is not None else None
    return make_model([node], {"x": (list(shape), TensorProto.FLOAT)},
                      {"y": (None, TensorProto.FLOAT)}, opset, inits)


def _run(model, tmp_path, feeds):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    xml = convert(path, output_dir=tmp_path / "ir", model_name="model")
    return xml, run_openvino(xml, feeds)["y"]


def test_long_dft_uses_openvino_rdft(tmp_path):
    """Past MATMUL_DFT_MAX points the transform is OpenVINO's RDFT (real, one-sided)."""
    x = np.random.default_rng(0).standard_normal((2, 600, 1)).astype(np.float32)
    xml, y = _run(_dft_model(x.shape, axis=1, onesided=1), tmp_path, {"x": x})
    assert "RDFT" in ir_layer_types(xml)
    expected = np.fft.rfft(x[..., 0].astype(np.float64), axis=1)
    np.testing.assert_allclose(y[..., 0], expected.real, atol=1e-3, rtol=1e-4)
    np.testing.assert_allclose(y[..., 1], expected.imag, atol=1e-3, rtol=1e-4)


def test_dft_length_pads_the_signal(tmp_path):
    x = np.random.default_rng(1).standard_normal((3, 6, 2)).astype(np.float32)
    xml, y = _run(_dft_model(x.shape, dft_length=8, axis=1), tmp_path, {"x": x})
    assert "MatMul" in ir_layer_types(xml)
    expected = np.fft.fft(x[..., 0] + 1j * x[..., 1], n=8, axis=1)
    np.testing.assert_allclose(y[..., 0], expected.real, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(y[..., 1], expected.imag, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("op, fn", [("DFT", np.fft.fft), ("IDFT", np.fft.ifft)])
def test_complex_transforms_fold(op, fn):
    x = np.random.default_rng(2).standard_normal((4, 5, 2)).astype(np.float32)
    g = Graph()
    out = g.op(op, g.const(x), g.const(np.array([1], np.int64)))
    assert out.shape == (4, 5, 2)
    (value,) = spec(op).fold(out.node)
    expected = fn(x[..., 0] + 1j * x[..., 1], axis=1)
    np.testing.assert_allclose(value[..., 0], expected.real, atol=1e-4)
    np.testing.assert_allclose(value[..., 1], expected.imag, atol=1e-4)


def test_real_transforms_fold_and_infer():
    x = np.random.default_rng(3).standard_normal((3, 8)).astype(np.float32)
    g = Graph()
    spectrum = g.op("RDFT", g.const(x), g.const(np.array([-1], np.int64)))
    assert spectrum.shape == (3, 5, 2)
    (folded,) = spec("RDFT").fold(spectrum.node)
    back = g.op("IRDFT", g.const(folded), g.const(np.array([1], np.int64)))
    assert back.shape == (3, 8)
    np.testing.assert_allclose(spec("IRDFT").fold(back.node)[0], x, atol=1e-5)
    runtime_axes = g.op("RDFT", g.const(x), g.parameter("axes", (1,), "i64"))
    assert runtime_axes.shape == (-1, -1, 2)


def test_stft_two_sided_is_refused(tmp_path):
    node = helper.make_node("STFT", ["x", "step", "", "len"], ["y"], name="stft", onesided=0)
    model = make_model([node], {"x": ([1, 64, 1], TensorProto.FLOAT)},
                       {"y": (None, TensorProto.FLOAT)}, 17,
                       {"step": np.array(8, np.int64), "len": np.array(16, np.int64)})
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(ConversionError, match=r"STFT.*'stft'.*onesided=0"):
        convert(tmp_path / "m.onnx", output_dir=tmp_path / "ir")


def test_large_determinant_is_refused(tmp_path):
    node = helper.make_node("Det", ["x"], ["y"], name="det")
    model = make_model([node], {"x": ([6, 6], TensorProto.FLOAT)},
                       {"y": (None, TensorProto.FLOAT)}, 11)
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(ConversionError, match=r"Det.*'det'.*6x6 determinant"):
        convert(tmp_path / "m.onnx", output_dir=tmp_path / "ir")


def test_determinant_of_4x4_matrices(tmp_path):
    x = np.random.default_rng(4).standard_normal((3, 4, 4)).astype(np.float32)
    node = helper.make_node("Det", ["x"], ["y"], name="det")
    model = make_model([node], {"x": (list(x.shape), TensorProto.FLOAT)},
                       {"y": (None, TensorProto.FLOAT)}, 11)
    _, y = _run(model, tmp_path, {"x": x})
    np.testing.assert_allclose(y, np.linalg.det(x.astype(np.float64)), rtol=1e-4, atol=1e-5)


def test_window_in_double(tmp_path):
    node = helper.make_node("HannWindow", ["n"], ["y"], name="hann",
                            output_datatype=TensorProto.DOUBLE, periodic=0)
    model = make_model([node], {"n": ([], TensorProto.INT64)},
                       {"y": (None, TensorProto.DOUBLE)}, 17)
    _, y = _run(model, tmp_path, {"n": np.array(7, np.int64)})
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, np.hanning(7), atol=1e-6)


@pytest.mark.parametrize("bands, length, rate, low, high", [(10, 64, 16000, 20.0, 7600.0),
                                                            (4, 31, 8000, 300.0, 3000.0)])
def test_mel_weight_matrix_matches_onnx_reference(bands, length, rate, low, high, tmp_path):
    from onnx.reference import ReferenceEvaluator

    node = helper.make_node("MelWeightMatrix", ["m", "n", "r", "lo", "hi"], ["y"], name="mel")
    model = make_model([node], {"m": ([], TensorProto.INT64), "n": ([], TensorProto.INT64),
                                "r": ([], TensorProto.INT64), "lo": ([], TensorProto.FLOAT),
                                "hi": ([], TensorProto.FLOAT)},
                       {"y": (None, TensorProto.FLOAT)}, 17)
    feeds = {"m": np.array(bands, np.int64), "n": np.array(length, np.int64),
             "r": np.array(rate, np.int64), "lo": np.array(low, np.float32),
             "hi": np.array(high, np.float32)}
    (expected,) = ReferenceEvaluator(model).run(None, feeds)
    _, y = _run(model, tmp_path, feeds)
    assert y.shape == (length // 2 + 1, bands)
    np.testing.assert_allclose(y, expected, atol=1e-6)
