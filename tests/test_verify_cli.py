"""`python -m modelzoo.verify IR.xml SOURCE [mo flags]`: any IR, ours or ovc's, checked with the
pipeline's machinery; exit 0 when it passes, 1 when it is wrong, 2 when the check cannot run."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import converter
from ir_mutations import double_mean
from ovc_irs import ovc_ir
from test_verify import IMAGE_FLAGS, cnn_onnx

MEAN, SCALE = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
MO_ARGS = ["--mean_values", "[123.675,116.28,103.53]", "--scale_values", "[58.395,57.12,57.375]",
           "--reverse_input_channels"]


def run_verify(*args, env=None):
    return subprocess.run([sys.executable, "-m", "modelzoo.verify", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    source = cnn_onnx(folder / "cnn.onnx")
    ours = {p: converter.convert(source, folder / p, "cnn", data_type=p, **IMAGE_FLAGS) for p in ("FP32", "FP16")}
    theirs = ovc_ir(source, folder / "ovc" / "cnn.xml", mean=MEAN, scale=SCALE, reverse=True)
    return folder, source, ours, theirs


def test_our_ir_passes_in_both_precisions(models):
    folder, source, ours, _ = models
    for precision, xml in ours.items():
        done = run_verify(xml, source, *MO_ARGS, "--json", folder / f"{precision}.json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "PASSED" in done.stdout and "onnxruntime" in done.stdout
        report = json.loads((folder / f"{precision}.json").read_text())
        assert report["precision"] == precision, "the precision is read from the IR"
        assert report["inputs"][0]["kind"] == "image"


def test_ovc_ir_with_prepostprocessor_passes_with_mo_flags(models):
    _, source, _, theirs = models
    done = run_verify(theirs, source, *MO_ARGS)
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = run_verify(theirs, source, "--mean_values", "[0,0,0]", "--scale_values", "[1,1,1]")
    assert wrong.returncode == 1 and "FAILED" in wrong.stdout


def test_ovc_ir_of_a_tf_graph_with_nhwc_preprocessing(tmp_path):
    from test_verify import _write_tf_conv_relu
    from tinymodels import conv_weights

    pb_path = _write_tf_conv_relu(tmp_path / "frozen.pb", *conv_weights())
    xml = ovc_ir(pb_path, tmp_path / "ovc.xml", mean=[10, 20, 30], scale=[2, 3, 4], reverse=True, layout="NHWC")
    args = ["--mean_values", "[10,20,30]", "--scale_values", "[2,3,4]", "--reverse_input_channels"]
    done = run_verify(xml, pb_path, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_verify(xml, pb_path, *args[:4]).returncode == 1, "without the reversal it is wrong"


def test_broken_ir_exits_1_naming_the_output(models, tmp_path):
    _, source, ours, _ = models
    done = run_verify(double_mean(ours["FP32"], tmp_path / "broken.xml"), source, *MO_ARGS)
    assert done.returncode == 1
    assert "FAILED" in done.stdout and "output 'y'" in done.stdout


def test_check_that_cannot_run_exits_2(models, tmp_path):
    _, source, ours, _ = models
    missing = run_verify(tmp_path / "nothing.xml", source)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    fake = tmp_path / "fake" / "openvino"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no openvino here')\n")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    done = run_verify(ours["FP32"], source, *MO_ARGS, env=env)
    assert done.returncode == 2 and "OpenVINO cannot be imported" in done.stderr
    assert "Traceback" not in done.stderr
