"""Numeric verification of an IR against its source model, with hand-built IRs."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from lxml import etree

from modelzoo.verify import VerificationError, apply_preprocessing, assert_passed, verify_ir
from tinymodels import (OUTPUT_SHAPE, conv_relu_graph, conv_weights, write_conv_relu_ir,
                        write_onnx_conv_relu)

PRE = {"mean": (10.0, 20.0, 30.0), "scale": (2.0, 4.0, 8.0), "reverse": True}


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    weights, bias = conv_weights()
    return write_onnx_conv_relu(tmp_path_factory.mktemp("onnx") / "model.onnx", weights, bias)


def verify(xml_path, source, **kwargs):
    kwargs.setdefault("precision", "FP32")
    kwargs.setdefault("tolerance", 1e-4)
    return verify_ir(xml_path, source, kwargs.pop("framework", "onnx"), **kwargs)


def test_matching_ir_passes(onnx_model, tmp_path):
    xml_path = write_conv_relu_ir(tmp_path / "model.xml", *conv_weights())
    report = verify(xml_path, onnx_model)
    assert report["passed"], report
    assert [o["name"] for o in report["outputs"]] == ["y"]
    assert report["outputs"][0]["shape"] == list(OUTPUT_SHAPE)
    assert report["max_rel_error"] < 1e-5
    assert report["structural_problems"] == [] and report["shape_mismatches"] == []
    json.dumps(report)  # the pipeline writes it as verify.json
    assert_passed(report, "conv_relu")


def test_wrong_constant_fails_and_is_reported(onnx_model, tmp_path):
    weights, bias = conv_weights()
    weights[0, 0, 1, 1] += 0.5
    xml_path = write_conv_relu_ir(tmp_path / "model.xml", weights, bias)
    report = verify(xml_path, onnx_model)
    assert not report["passed"]
    output = report["outputs"][0]
    assert not output["passed"] and output["max_abs_error"] > 0.01
    with pytest.raises(VerificationError) as info:
        assert_passed(report, "conv_relu")
    message = str(info.value)
    assert "conv_relu" in message and str(xml_path) in message and "output 'y'" in message
    assert f"max abs error {output['max_abs_error']}" in message


def test_loose_tolerance_accepts_small_errors(onnx_model, tmp_path):
    weights, bias = conv_weights()
    xml_path = write_conv_relu_ir(tmp_path / "model.xml", weights, bias + np.float32(5e-3))
    strict = verify(xml_path, onnx_model)
    assert not strict["passed"] and 1e-4 < strict["max_rel_error"] < 1e-2
    assert verify(xml_path, onnx_model, precision="FP16", tolerance=1e-2)["passed"]


def test_wrong_port_dim_is_a_shape_mismatch(onnx_model, tmp_path):
    xml_path = write_conv_relu_ir(tmp_path / "model.xml", *conv_weights())
    root = etree.parse(str(xml_path)).getroot()
    conv = root.find("layers/layer[@name='conv']")
    add = root.find("layers/layer[@name='conv/bias']")
    # Both ends of the edge say 7 wide, so only OpenVINO's shape inference can tell.
    for port in (conv.find("output/port"), add.find("input/port[@id='0']")):
        port.findall("dim")[3].text = "7"
    xml_path.write_bytes(etree.tostring(root))
    report = verify(xml_path, onnx_model)
    assert report["structural_problems"] == []
    assert not report["passed"]
    assert any("'conv' (Convolution) port 2: XML says [1,4,8,7], OpenVINO infers [1,4,8,8]" in m
               for m in report["shape_mismatches"])
    with pytest.raises(VerificationError, match="shape: layer 'conv/bias'"):
        assert_passed(report, "conv_relu")


def test_structural_problems_stop_before_running(onnx_model, tmp_path):
    xml_path = write_conv_relu_ir(tmp_path / "model.xml", *conv_weights())
    xml_path.with_suffix(".bin").unlink()
    report = verify(xml_path, onnx_model)
    assert not report["passed"] and report["outputs"] == []
    assert any("does not exist" in p for p in report["structural_problems"])


def test_preprocessing_is_applied_to_the_source_feeds(onnx_model, tmp_path):
    xml_path = tmp_path / "model.xml"
    write_conv_relu_ir(xml_path, *conv_weights(), preprocessing=PRE)
    meta = {"x": {"low": 0.0, "high": 255.0}}
    report = verify(xml_path, onnx_model, preprocessing={"x": PRE}, inputs_meta=meta)
    assert report["passed"], report
    assert not verify(xml_path, onnx_model, inputs_meta=meta)["passed"]
    flipped_only = {"x": dict(PRE, reverse=False)}
    assert not verify(xml_path, onnx_model, preprocessing=flipped_only, inputs_meta=meta)["passed"]


def test_apply_preprocessing_reverses_then_subtracts_then_divides():
    x = np.arange(2 * 3, dtype=np.float32).reshape(2, 3)  # channels last
    pre = {"mean": (1, 2, 3), "scale": (1, 2, 4), "reverse": True}
    got = apply_preprocessing(x, pre, "tf")
    np.testing.assert_allclose(got, [[(2 - 1) / 1, (1 - 2) / 2, (0 - 3) / 4],
                                     [(5 - 1) / 1, (4 - 2) / 2, (3 - 3) / 4]])
    nchw = apply_preprocessing(x.T.reshape(1, 3, 2), pre, "onnx")
    np.testing.assert_allclose(nchw[0].T, got)


def test_missing_output_fails(onnx_model, tmp_path):
    graph = conv_relu_graph(*conv_weights())
    graph.results[0].inputs[0].info.names.clear()
    graph.results[0].inputs[0].info.names.add("z")
    from converter.ir.writer import write_ir
    xml_path, _ = write_ir(graph, tmp_path / "model.xml")
    report = verify(xml_path, onnx_model)
    assert not report["passed"]
    problems = {o["name"]: o["problem"] for o in report["outputs"]}
    assert "no output of the source model" in problems["z"]
    assert "the IR has no output" in problems["y"]


def test_importing_verify_loads_no_runtime():
    code = ("import sys, modelzoo.verify; "
            "print(sorted(m for m in ('numpy', 'openvino', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _write_tf_conv_relu(pb_path, weights, bias):
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        kernel = tf.constant(weights.transpose(2, 3, 1, 0))  # OIHW -> HWIO
        conv = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), tf.constant(bias))
        tf.nn.relu(conv, name="y")
    pb_path.write_bytes(graph.as_graph_def().SerializeToString())
    return pb_path


def _nhwc_ir(xml_path, weights, bias):
    """The TF graph above in IR: NHWC in, transposed around the NCHW convolution, NHWC out."""
    from converter.graph import Graph
    from converter.ir.writer import write_ir

    graph = Graph("tf_conv_relu")
    x = graph.parameter("x", (1, 8, 8, 3), "f32")
    x.info.names.add("x:0")
    nchw = graph.op("Transpose", x, graph.const(np.array([0, 3, 1, 2], np.int64)))
    conv = graph.op("Convolution", nchw, graph.const(weights), strides=[1, 1], dilations=[1, 1],
                    pads_begin=[1, 1], pads_end=[1, 1], auto_pad="explicit")
    added = graph.op("Add", conv, graph.const(bias.reshape(1, -1, 1, 1)), auto_broadcast="numpy")
    nhwc = graph.op("Transpose", graph.op("ReLU", added), graph.const(np.array([0, 2, 3, 1], np.int64)))
    nhwc.info.names.add("y:0")
    graph.result(nhwc, "y")
    return write_ir(graph, xml_path)[0]


def test_frozen_tf_graph(tmp_path):
    weights, bias = conv_weights()
    pb_path = _write_tf_conv_relu(tmp_path / "frozen.pb", weights, bias)
    report = verify(_nhwc_ir(tmp_path / "model.xml", weights, bias), pb_path, framework="tf")
    assert report["passed"], report
    assert report["outputs"][0]["name"] == "y:0"
    wrong = _nhwc_ir(tmp_path / "wrong.xml", weights, bias * 2)
    assert not verify(wrong, pb_path, framework="tf")["passed"]
