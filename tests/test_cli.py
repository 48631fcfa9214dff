"""`python -m converter`: the Model Optimizer's command line, as a user runs it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from modelzoo.runtime import run_onnxruntime, run_openvino
from tinymodels import INPUT_SHAPE, conv_weights, write_onnx_conv_relu


def converter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "converter", *args], capture_output=True, text=True, timeout=120)


def test_converts_with_mo_flags_and_reports_the_files(tmp_path):
    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    run = converter("--input_model", str(model), "--output_dir", str(tmp_path / "out"), "--model_name", "net",
                    "--mean_values", "[1,2,3]", "--scale_values", "[4,5,6]", "--reverse_input_channels",
                    "--data_type", "FP16")
    assert run.returncode == 0, run.stderr
    xml = tmp_path / "out" / "net.xml"
    assert f"XML file: {xml}" in run.stdout and (tmp_path / "out" / "net.bin").is_file()
    x = np.random.default_rng(0).uniform(0, 255, INPUT_SHAPE).astype(np.float32)
    prepared = (x[:, ::-1] - np.array([1, 2, 3], np.float32).reshape(1, 3, 1, 1)) / np.array(
        [4, 5, 6], np.float32).reshape(1, 3, 1, 1)
    expected = run_onnxruntime(model, {"x": np.ascontiguousarray(prepared)})["y"]
    np.testing.assert_allclose(run_openvino(xml, {"x": x})["y"], expected, rtol=1e-2, atol=1e-2 * np.ptp(expected))
    assert 'name="conversion_parameters"' not in xml.read_text()  # written as an element
    assert "<reverse_input_channels value=\"true\"/>" in xml.read_text()


def test_a_bad_flag_value_is_one_clear_line(tmp_path):
    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    run = converter("--input_model", str(model), "--output_dir", str(tmp_path), "--input_shape", "[1,3,,8]")
    assert run.returncode == 1
    assert run.stderr.startswith(f"[ ERROR ] {model}: flag input_shape:") and "Traceback" not in run.stderr
    assert not list(tmp_path.glob("*.xml"))


def test_a_missing_model_file_says_which(tmp_path):
    run = converter("--input_model", str(tmp_path / "nope.onnx"), "--output_dir", str(tmp_path))
    assert run.returncode == 1 and "nope.onnx" in run.stderr and "Traceback" not in run.stderr


def test_same_model_twice_gives_byte_identical_ir(tmp_path):
    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    for out in ("a", "b"):
        assert converter("--input_model", str(model), "--output_dir", str(tmp_path / out)).returncode == 0
    for suffix in (".xml", ".bin"):
        assert (tmp_path / "a" / f"m{suffix}").read_bytes() == (tmp_path / "b" / f"m{suffix}").read_bytes()


def element_types(xml) -> set[str]:
    import re

    return set(re.findall(r'element_type="(\w+)"', xml.read_text()))


def test_compress_to_fp16_alone_means_fp16_and_false_means_fp32(tmp_path):
    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    assert converter("--input_model", str(model), "--output_dir", str(tmp_path / "half"),
                     "--compress_to_fp16").returncode == 0
    assert "f16" in element_types(tmp_path / "half" / "m.xml")
    assert converter("--input_model", str(model), "--output_dir", str(tmp_path / "full"),
                     "--compress_to_fp16=False").returncode == 0
    assert "f16" not in element_types(tmp_path / "full" / "m.xml")


def test_compress_to_fp16_against_data_type_is_an_input_error(tmp_path):
    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    run = converter("--input_model", str(model), "--output_dir", str(tmp_path), "--compress_to_fp16",
                    "--data_type", "FP32")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("[ ERROR ] ") and "compress_to_fp16" in run.stderr and "data_type" in run.stderr


def test_flags_that_change_nothing_say_what_happens_instead(tmp_path):
    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    run = converter("--input_model", str(model), "--output_dir", str(tmp_path), "--static_shape",
                    "--disable_gfusing")
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert sum(line.startswith("[ WARNING ] static_shape: IR shapes are static") for line in lines) == 1
    assert not any("disable_gfusing" in line for line in lines)  # it switches a pass off
    quiet = converter("--input_model", str(model), "--output_dir", str(tmp_path), "--static_shape",
                      "--log_level", "ERROR")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_asking_for_ir_v7_is_refused(tmp_path):
    model = write_onnx_conv_relu(tmp_path / "m.onnx", *conv_weights())
    run = converter("--input_model", str(model), "--output_dir", str(tmp_path), "--generate_deprecated_IR_V7")
    assert run.returncode == 1 and "IR v11" in run.stderr and not list(tmp_path.glob("*.xml"))
