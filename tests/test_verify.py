"""Numeric verification of an IR against its source model: what passes, and every way a wrong
IR must fail. IRs come from our converter (or are built by hand), broken ones from
`ir_mutations`; sources are ONNX graphs and TF graphs built here with seeded weights."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from lxml import etree
from onnx import TensorProto, helper, numpy_helper

import converter
from ir_mutations import cast_output, double_mean, perturb_first_conv, swap_input_channels
from modelzoo.verify import VerificationError, assert_passed, verify_ir
from tinymodels import OUTPUT_SHAPE, conv_relu_graph, conv_weights, write_conv_relu_ir, write_onnx_conv_relu

# The Model Optimizer's flags for an RGB image normalized per channel.
IMAGE_FLAGS = {"mean_values": "[123.675,116.28,103.53]", "scale_values": "[58.395,57.12,57.375]",
               "reverse_input_channels": True}


def verify(xml_path, source, **kwargs):
    kwargs.setdefault("precision", "FP32")
    return verify_ir(xml_path, source, kwargs.pop("framework", None), **kwargs)


def cnn_onnx(path, ir_version=8, size=32):
    """x [1,3,size,size] -> Conv 3x3 (8) -> Relu -> Conv 3x3 stride 2 (6) -> Relu -> y: a net
    whose output keeps the picture's layout, so channel and spatial bugs show."""
    rng = np.random.default_rng(7)
    w1 = rng.normal(0, 0.2, (8, 3, 3, 3)).astype(np.float32)
    w2 = rng.normal(0, 0.2, (6, 8, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 8).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["y"])]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
         numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = ir_version
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """The CNN in ONNX, and its FP32 and FP16 IRs with mean/scale/reverse baked in."""
    folder = tmp_path_factory.mktemp("image")
    source = cnn_onnx(folder / "cnn.onnx")
    irs = {precision: converter.convert(source, folder / precision, "cnn", data_type=precision,
                                        **IMAGE_FLAGS) for precision in ("FP32", "FP16")}
    return source, irs


# -- a correct IR passes, on the inputs it really gets ---------------------------------------
@pytest.mark.parametrize("precision", ["FP32", "FP16"])
def test_correct_ir_passes_on_raw_pixels(image_model, precision):
    source, irs = image_model
    report = verify(irs[precision], source, precision=precision, flags=IMAGE_FLAGS)
    assert report["passed"], report
    [fed] = report["inputs"]
    assert (fed["kind"], fed["low"], fed["high"]) == ("image", 0.0, 255.0)
    assert fed["preprocessing"]["reverse_input_channels"] and fed["preprocessing"]["channel_axis"] == 1
    assert report["reference"]["runtime"] == "onnxruntime" and report["reference"]["version"]
    assert report["openvino"]
    [output] = report["outputs"]
    assert (output["ir_element_type"], output["source_element_type"]) == ("float32", "float32")
    json.dumps(report)  # the pipeline writes it as verify.json


# -- every kind of broken IR fails ----------------------------------------------------------
@pytest.mark.parametrize("precision", ["FP32", "FP16"])
@pytest.mark.parametrize("mutate", [swap_input_channels, double_mean, perturb_first_conv],
                         ids=["channels swapped", "mean applied twice", "first conv weights +1%"])
def test_broken_ir_fails(image_model, tmp_path, mutate, precision):
    source, irs = image_model
    broken = mutate(irs[precision], tmp_path / "broken.xml")
    report = verify(broken, source, precision=precision, flags=IMAGE_FLAGS)
    assert not report["passed"]
    assert report["max_rel_error"] > report["tolerance"]


def test_output_cast_to_int32_fails_on_its_type(image_model, tmp_path):
    source, irs = image_model
    report = verify(cast_output(irs["FP32"], tmp_path / "int.xml"), source, flags=IMAGE_FLAGS)
    assert not report["passed"]
    [output] = report["outputs"]
    assert output["ir_element_type"] == "int32" and output["source_element_type"] == "float32"
    with pytest.raises(VerificationError, match="the IR gives int32, the source float32"):
        assert_passed(report, "cnn")


def test_wrong_flags_for_the_check_fail(image_model):
    """The flags describe the IR's preprocessing: verifying with another mean must fail."""
    source, irs = image_model
    flags = dict(IMAGE_FLAGS, mean_values="[100,100,100]")
    assert not verify(irs["FP32"], source, flags=flags)["passed"]
    assert not verify(irs["FP32"], source, flags=dict(IMAGE_FLAGS, reverse_input_channels=False))["passed"]


def test_converter_planning_bug_does_not_cancel_out(tmp_path, monkeypatch):
    """The reference reads the flags itself: a converter that applies the mean on the wrong
    axis is caught, although its own plan says that axis."""
    from converter.passes import preprocessing

    original = preprocessing.input_plan

    def wrong_axis(*args, **kwargs):
        plan = original(*args, **kwargs)
        return plan and dict(plan, channel_axis=3)

    source = cnn_onnx(tmp_path / "square.onnx", size=3)  # 3 channels, 3 pixels wide
    flags = {"mean_values": "[10,100,200]"}
    good = converter.convert(source, tmp_path / "good", "cnn", **flags)
    monkeypatch.setattr(preprocessing, "input_plan", wrong_axis)
    bad = converter.convert(source, tmp_path / "bad", "cnn", **flags)
    monkeypatch.undo()
    assert verify(good, source, flags=flags)["passed"]
    assert not verify(bad, source, flags=flags)["passed"]


# -- what is compared ------------------------------------------------------------------------
def test_missing_and_extra_outputs_fail(tmp_path):
    source = write_onnx_conv_relu(tmp_path / "model.onnx", *conv_weights())
    graph = conv_relu_graph(*conv_weights())
    graph.results[0].inputs[0].info.names.clear()
    graph.results[0].inputs[0].info.names.add("z")
    from converter.ir.writer import write_ir
    xml_path, _ = write_ir(graph, tmp_path / "model.xml")
    report = verify(xml_path, source)
    assert not report["passed"]
    problems = {o["name"]: o["problem"] for o in report["outputs"]}
    assert "no output of the source model" in problems["z"]
    assert "the IR has no output" in problems["y"]


def test_wrong_port_dim_is_a_shape_mismatch(tmp_path):
    source = write_onnx_conv_relu(tmp_path / "model.onnx", *conv_weights())
    xml_path = write_conv_relu_ir(tmp_path / "model.xml", *conv_weights())
    root = etree.parse(str(xml_path)).getroot()
    for port in (root.find("layers/layer[@name='conv']/output/port"),
                 root.find("layers/layer[@name='conv/bias']/input/port[@id='0']")):
        port.findall("dim")[3].text = "7"
    xml_path.write_bytes(etree.tostring(root))
    report = verify(xml_path, source)
    assert not report["passed"] and report["structural_problems"] == []
    assert any("'conv' (Convolution) port 2: XML says [1,4,8,7], OpenVINO infers [1,4,8,8]" in m
               for m in report["shape_mismatches"])


def test_structural_problems_stop_before_running(tmp_path):
    source = write_onnx_conv_relu(tmp_path / "model.onnx", *conv_weights())
    xml_path = write_conv_relu_ir(tmp_path / "model.xml", *conv_weights())
    xml_path.with_suffix(".bin").unlink()
    report = verify(xml_path, source)
    assert not report["passed"] and report["outputs"] == []
    assert any("does not exist" in p for p in report["structural_problems"])


def empty_output_onnx(path, keep: float):
    """y = x[x > keep]-ish: NonZero picks the elements above `keep`; none when keep is high."""
    nodes = [helper.make_node("Greater", ["x", "t"], ["mask"]),
             helper.make_node("NonZero", ["mask"], ["idx"]),
             helper.make_node("Transpose", ["idx"], ["y"], perm=[1, 0])]
    graph = helper.make_graph(nodes, "empty", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
                              [numpy_helper.from_array(np.array(keep, np.float32), "t")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_all_empty_outputs_compare_nothing_and_fail(tmp_path):
    import openvino as ov

    for keep, passes in ((5.0, False), (0.0, True)):
        source = empty_output_onnx(tmp_path / f"m{keep}.onnx", keep)
        xml = tmp_path / f"m{keep}.xml"
        ov.save_model(ov.convert_model(str(source)), str(xml), compress_to_fp16=False)
        report = verify(xml, source)
        assert report["passed"] is passes, report
        if not passes:
            assert report["outputs"][0]["empty"] and "no value was compared" in report["nothing_compared"]


# -- references ------------------------------------------------------------------------------
def test_onnx_ir_version_14_verifies(tmp_path):
    source = cnn_onnx(tmp_path / "v14.onnx", ir_version=14)
    xml = converter.convert(source, tmp_path / "ir", "v14")
    report = verify(xml, source)
    assert report["passed"], report
    assert report["reference"]["runtime"] in ("onnxruntime", "onnx.reference")
    assert "14" in report["reference"]["detail"]


def _write_tf_conv_relu(pb_path, weights, bias):
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        kernel = tf.constant(weights.transpose(2, 3, 1, 0))  # OIHW -> HWIO
        conv = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), tf.constant(bias))
        tf.nn.relu(conv, name="y")
    pb_path.write_bytes(graph.as_graph_def().SerializeToString())
    return pb_path


def test_frozen_tf_graph_with_nhwc_preprocessing(tmp_path):
    weights, bias = conv_weights()
    pb_path = _write_tf_conv_relu(tmp_path / "frozen.pb", weights, bias)
    flags = {"mean_values": "x[10,20,30]", "scale_values": "x[2,3,4]", "reverse_input_channels": True}
    xml = converter.convert(pb_path, tmp_path / "ir", "tf", **flags)
    report = verify(xml, pb_path, flags=flags)
    assert report["passed"], report
    assert report["outputs"][0]["name"] == "y:0" and report["outputs"][0]["shape"] == [1, 8, 8, 4]
    assert report["inputs"][0]["preprocessing"]["channel_axis"] == 3
    assert not verify(swap_input_channels(xml, tmp_path / "swapped.xml"), pb_path, flags=flags)["passed"]


# -- the FP16 budget -------------------------------------------------------------------------
def cancelling_onnx(path):
    """y = x @ (100 + r) - x @ 100: float16 rounds 100 + r to steps of 1/16, so an FP16 IR is
    honestly ~1e-2 of the output's range away, far more than a typical CNN."""
    rng = np.random.default_rng(1)
    big = (100 + rng.uniform(0, 1, (64, 16))).astype(np.float32)
    base = np.full((64, 16), 100, np.float32)
    nodes = [helper.make_node("MatMul", ["x", "big"], ["a"]), helper.make_node("MatMul", ["x", "base"], ["b"]),
             helper.make_node("Sub", ["a", "b"], ["y"])]
    graph = helper.make_graph(nodes, "cancel", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
                              [numpy_helper.from_array(big, "big"), numpy_helper.from_array(base, "base")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_fp16_budget_is_measured_from_the_model(tmp_path):
    source = cancelling_onnx(tmp_path / "cancel.onnx")
    xml = converter.convert(source, tmp_path / "ir", "cancel", data_type="FP16")
    report = verify(xml, source, precision="FP16")
    how = report["tolerance_from"]
    assert how["source"] == "derived" and how["fp16_weights_error"] > 1e-3
    assert report["tolerance"] == pytest.approx(max(how["multiple"] * how["fp16_weights_error"], how["floor"]))
    assert report["max_rel_error"] > 1e-3, "the FP16 IR is honestly off"
    assert report["passed"], report
    given = verify(xml, source, precision="FP16", tolerance=1e-4)
    assert given["tolerance_from"] == {"source": "given"} and not given["passed"]
    # a broken FP16 IR still fails within the measured budget
    broken = verify(perturb_matmul(xml, tmp_path / "broken.xml"), source, precision="FP16")
    assert not broken["passed"]


def perturb_matmul(xml, out_xml):
    """The IR with its first f16 weight constant scaled by 1.2."""
    root = etree.parse(str(xml)).getroot()
    data = bytearray(xml.with_suffix(".bin").read_bytes())
    const = next(c for c in root.iterfind("layers/layer[@type='Const']")
                 if c.find("data").get("element_type") == "f16" and int(c.find("data").get("size")) > 64)
    offset, size = int(const.find("data").get("offset")), int(const.find("data").get("size"))
    values = np.frombuffer(bytes(data[offset:offset + size]), np.float16) * np.float16(1.2)
    data[offset:offset + size] = values.astype(np.float16).tobytes()
    out_xml.write_bytes(etree.tostring(root))
    out_xml.with_suffix(".bin").write_bytes(bytes(data))
    return out_xml


def test_importing_verify_loads_no_runtime():
    code = ("import sys, modelzoo.verify, modelzoo.verify.__main__; "
            "print(sorted(m for m in ('numpy', 'openvino', 'tensorflow', 'onnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_report_names_the_failure(tmp_path):
    source = write_onnx_conv_relu(tmp_path / "model.onnx", *conv_weights())
    weights, bias = conv_weights()
    weights[0, 0, 1, 1] += 0.5
    report = verify(write_conv_relu_ir(tmp_path / "model.xml", weights, bias), source)
    assert not report["passed"] and report["outputs"][0]["shape"] == list(OUTPUT_SHAPE)
    with pytest.raises(VerificationError) as info:
        assert_passed(report, "conv_relu")
    message = str(info.value)
    assert "conv_relu" in message and "output 'y'" in message
    assert f"max abs error {report['outputs'][0]['max_abs_error']}" in message
