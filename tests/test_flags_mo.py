"""The Model Optimizer's flags (the seed's lists), each from the command line and from a manifest:
--steps, --finegrain_fusing, --move_to_preprocess, --freeze_placeholder_with_value, --input and
--output cutting, --log_level/--silent/--version, the IR's rt_info, the flags that no longer
apply, and the TensorFlow flags (--input_model_is_text, --tensorboard_logdir, --nhwc_to_nchw and
--disable_nhwc_to_nchw, checkpoints and SavedModels)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from converter import convert
from converter.errors import UserInputError
from converter.options import ConversionOptions
from modelzoo.errors import ManifestError
from modelzoo.manifest import load_manifest
from modelzoo.runtime import run_onnxruntime, run_openvino

SHA = "a" * 64


def converter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "converter", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def ir_ops(xml: Path) -> Counter:
    return Counter(layer.get("type") for layer in etree.parse(str(xml)).iter("layer"))


def ir_inputs(xml: Path) -> dict[str, list[int]]:
    """Parameter name -> its declared shape."""
    shapes = {}
    for layer in etree.parse(str(xml)).iter("layer"):
        if layer.get("type") == "Parameter":
            shapes[layer.get("name")] = [int(d) for d in
                                         layer.find("data").get("shape").split(",") if d]
    return shapes


def manifest_entry(tmp_path: Path, keys: str):
    path = tmp_path / "zoo.toml"
    path.write_text(f'[net]\nurl = "https://example.org/net.tar.gz"\nsha256 = "{SHA}"\n{keys}\n')
    return load_manifest(path)["net"]


def manifest_error(tmp_path: Path, keys: str) -> str:
    with pytest.raises(ManifestError) as caught:
        manifest_entry(tmp_path, keys)
    return str(caught.value)


# -- small ONNX models ---------------------------------------------------------------------------
def write_onnx(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def conv_scale_model(path: Path) -> Path:
    """x [1,3,6,6] -> Conv 3x3 -> Mul by a per-channel constant ("channel_scale") -> Relu -> y."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    s = rng.uniform(0.5, 2, (1, 4, 1, 1)).astype(np.float32)
    return write_onnx(
        path,
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                          name="conv"),
         helper.make_node("Mul", ["c", "s"], ["m"], name="channel_scale"),
         helper.make_node("Relu", ["m"], ["y"], name="relu")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(s, "s")])


def two_branch_model(path: Path) -> Path:
    """y1 = (x + float(flag)) * k;  y2 = Sigmoid(x) + z: flag (bool scalar), k [1] and z feed
    the branches."""
    from onnx import TensorProto, helper

    return write_onnx(
        path,
        [helper.make_node("Cast", ["flag"], ["f"], to=TensorProto.FLOAT),
         helper.make_node("Add", ["x", "f"], ["w"]),
         helper.make_node("Mul", ["w", "k"], ["y1"]),
         helper.make_node("Sigmoid", ["x"], ["sx"]),
         helper.make_node("Add", ["sx", "z"], ["y2"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
         helper.make_tensor_value_info("k", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y1", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("y2", TensorProto.FLOAT, [1, 4])])


X4 = np.array([[-1.5, -0.25, 0.5, 2.0]], np.float32)


# -- --steps ------------------------------------------------------------------------------------
STEP = re.compile(r"\[ INFO \] pass (.+): (\d+) -> (\d+) nodes, (\d+) rewrite\(s\), [\d.]+ ms")


def test_steps_prints_every_pass_with_its_node_counts_and_time(tmp_path):
    from converter.passes import planned_passes

    model = conv_scale_model(tmp_path / "m.onnx")
    run = converter("--input_model", model, "--output_dir", tmp_path / "out", "--steps")
    assert run.returncode == 0, run.stderr
    steps = [STEP.fullmatch(line).groups() for line in run.stderr.splitlines()
             if STEP.fullmatch(line)]
    assert [s[0] for s in steps] == [name for name, _ in planned_passes(ConversionOptions())]
    counts = [(int(before), int(after)) for _, before, after, _ in steps]
    assert all(after == next_before for (_, after), (next_before, _) in zip(counts, counts[1:]))
    fused = dict((name, (int(b), int(a), int(r))) for name, b, a, r in steps)["fuse_linear_into_conv"]
    assert fused[2] == 1 and fused[1] < fused[0]  # the Multiply went into the weights
    assert re.search(r"^\[ INFO \] frontend onnx: \d+ nodes, [\d.]+ ms$", run.stderr, re.M)
    assert re.search(r"^\[ INFO \] writer: \d+ nodes written, [\d.]+ ms$", run.stderr, re.M)
    quiet = converter("--input_model", model, "--output_dir", tmp_path / "quiet")
    assert quiet.returncode == 0 and "pass " not in quiet.stderr


def test_steps_in_a_manifest_is_accepted_and_does_not_key_the_ir(tmp_path):
    entry = manifest_entry(tmp_path, "steps = true")
    assert entry.options().steps is True
    assert entry.flags_key() == manifest_entry(tmp_path, "").flags_key()


def test_steps_from_python_are_logged_at_info(tmp_path, caplog):
    model = conv_scale_model(tmp_path / "m.onnx")
    caplog.set_level("INFO", logger="converter")
    convert(model, tmp_path, steps=True)
    assert sum(r.getMessage().startswith("pass ") for r in caplog.records) > 10
    caplog.clear()
    convert(model, tmp_path)
    assert not any(r.getMessage().startswith("pass ") for r in caplog.records)


# -- --finegrain_fusing -------------------------------------------------------------------------
def onnx_reference(model: Path, x: np.ndarray) -> np.ndarray:
    return run_onnxruntime(model, {"x": x})["y"]


@pytest.mark.parametrize("patterns,multiplies", [(None, 0), ("channel_.*", 1), ("other,.*scale", 1),
                                                 ("conv", 1), ("channel", 0)])
def test_finegrain_fusing_leaves_the_named_nodes_unfused(tmp_path, patterns, multiplies):
    """`channel` alone does not match the whole name `channel_scale`: nothing is protected."""
    model = conv_scale_model(tmp_path / "m.onnx")
    flags = [] if patterns is None else ["--finegrain_fusing", patterns]
    run = converter("--input_model", model, "--output_dir", tmp_path / "out", *flags)
    assert run.returncode == 0, run.stderr
    xml = tmp_path / "out" / "m.xml"
    assert ir_ops(xml)["Multiply"] == multiplies and ir_ops(xml)["Convolution"] == 1
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(run_openvino(xml, {"x": x})["y"], onnx_reference(model, x),
                               rtol=1e-4, atol=1e-4)


def test_finegrain_fusing_in_a_manifest(tmp_path):
    assert manifest_entry(tmp_path, 'finegrain_fusing = "Conv1,.*Scale{1,2}.*"').options() \
        .finegrain_fusing == ("Conv1", ".*Scale{1,2}.*")
    assert manifest_entry(tmp_path, 'finegrain_fusing = ["a", "b.*"]').options() \
        .finegrain_fusing == ("a", "b.*")
    message = manifest_error(tmp_path, 'finegrain_fusing = "conv(["')
    assert "finegrain_fusing" in message and "regular expression" in message


def test_the_fusing_guard_protects_whole_names_only():
    from converter.graph import Node
    from converter.passes._fusing import fusing_guard

    guard = fusing_guard(ConversionOptions.from_flags({"finegrain_fusing": "conv1,.*Scale.*"}))
    named = [Node("Add", name, [], {}) for name in ("conv1", "conv12", "bn/Scale/mul")]
    assert [guard.allows(node) for node in named] == [False, True, False]
    assert guard.allows(named[1], named[1]) and not guard.allows(named[1], named[0])
    assert fusing_guard(None).allows(*named)


def pattern_zoo_model(path: Path) -> Path:
    """x [1,3,6,6] -> Pad ("pad") -> Conv ("conv") -> Mul by a per-channel constant ("bn_scale")
    -> x * Sigmoid(x) ("swish_gate", "swish") -> y: one pattern per fusing pass kind."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    tensors = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
               "s": rng.uniform(0.5, 2, (1, 4, 1, 1)).astype(np.float32),
               "pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)}
    return write_onnx(
        path,
        [helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
         helper.make_node("Conv", ["p", "w"], ["c"], kernel_shape=[3, 3], name="conv"),
         helper.make_node("Mul", ["c", "s"], ["m"], name="bn_scale"),
         helper.make_node("Sigmoid", ["m"], ["g"], name="swish_gate"),
         helper.make_node("Mul", ["m", "g"], ["y"], name="swish")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])],
        [numpy_helper.from_array(v, k) for k, v in tensors.items()])


FUSED = {"Pad": 0, "Multiply": 0, "Sigmoid": 0, "Swish": 1, "Convolution": 1}
KEPT = {"Pad": 1, "Multiply": 2, "Sigmoid": 1, "Swish": 0, "Convolution": 1}


def layer_counts(xml: Path) -> dict[str, int]:
    return {op: ir_ops(xml)[op] for op in FUSED}


@pytest.mark.parametrize("patterns,expected", [
    (None, FUSED), ("elsewhere,x", FUSED),
    ("pad,bn_scale,swish_gate", KEPT),                  # one node of each pattern
    ("pad", dict(FUSED, Pad=1)), ("swish", dict(FUSED, Multiply=1, Sigmoid=1, Swish=0))])
def test_finegrain_fusing_keeps_each_named_pattern_through_the_pipeline(tmp_path, patterns,
                                                                        expected):
    """The Pad before a Convolution, the Multiply of a scale-shift and the Sigmoid or Multiply
    of a Swish, named on the command line: each stays in the IR; the others fuse."""
    model = pattern_zoo_model(tmp_path / "m.onnx")
    flags = [] if patterns is None else ["--finegrain_fusing", patterns]
    run = converter("--input_model", model, "--output_dir", tmp_path / "out", *flags)
    assert run.returncode == 0, run.stderr
    xml = tmp_path / "out" / "m.xml"
    assert layer_counts(xml) == expected
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(run_openvino(xml, {"x": x})["y"], onnx_reference(model, x),
                               rtol=1e-4, atol=1e-4)


def test_finegrain_fusing_in_a_manifest_built_with_doit(tmp_path):
    """`doit convert` on a models.toml whose model names nodes in `finegrain_fusing`: the IR
    keeps them, is verified against ONNX Runtime, and the flag keys the IR (the other model,
    without it, fuses)."""
    import hashlib

    from doit_runner import run_doit

    model = pattern_zoo_model(tmp_path / "m.onnx")
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    entry = f'url = "m.onnx"\nsha256 = "{sha}"\nframework = "onnx"\n'
    manifest = tmp_path / "models.toml"
    manifest.write_text('[defaults]\nprecisions = ["FP32"]\noutput_dir = "ir"\n'
                        f'cache_dir = "{tmp_path / "cache"}"\n\n'
                        f'[kept]\n{entry}finegrain_fusing = "pad,bn_scale,swish_gate"\n\n'
                        f'[fused]\n{entry}')
    run = run_doit("convert", manifest=manifest)
    assert run.code == 0, run.out + run.err
    for name, expected in (("kept", KEPT), ("fused", FUSED)):
        folder = tmp_path / "ir" / name / "FP32"
        assert layer_counts(folder / f"{name}.xml") == expected, name
        verified = json.loads((folder / "verify.json").read_text())
        assert verified["passed"] is True, (name, verified)


# -- --move_to_preprocess and the flags that no longer apply ------------------------------------
def test_move_to_preprocess_says_what_happens_and_changes_nothing(tmp_path):
    model = conv_scale_model(tmp_path / "m.onnx")
    flags = ["--input_model", model, "--mean_values", "[1,2,3]"]
    run = converter(*flags, "--output_dir", tmp_path / "a", "--move_to_preprocess")
    assert run.returncode == 0, run.stderr
    assert "[ WARNING ] move_to_preprocess: IR v11 has no preprocessing section" in run.stderr
    assert converter(*flags, "--output_dir", tmp_path / "b").returncode == 0
    for suffix in (".xml", ".bin"):
        assert (tmp_path / "a" / f"m{suffix}").read_bytes() == \
            (tmp_path / "b" / f"m{suffix}").read_bytes()


def test_move_to_preprocess_in_a_manifest(tmp_path):
    entry = manifest_entry(tmp_path, "move_to_preprocess = true")
    assert entry.options().inert_flag_notes()[0].startswith("move_to_preprocess: IR v11 has no")
    assert entry.flags_key() == manifest_entry(tmp_path, "").flags_key()


def test_deprecated_ir_v2_is_accepted_saying_ir_v11_is_written(tmp_path):
    model = conv_scale_model(tmp_path / "m.onnx")
    run = converter("--input_model", model, "--output_dir", tmp_path, "--generate_deprecated_IR_V2")
    assert run.returncode == 0, run.stderr
    assert "[ WARNING ] generate_deprecated_IR_V2: IR v11 is written" in run.stderr
    assert 'version="11"' in (tmp_path / "m.xml").read_text()
    entry = manifest_entry(tmp_path, "generate_deprecated_IR_V2 = true")
    assert entry.options().inert_flag_notes()[0].startswith("generate_deprecated_IR_V2: IR v11")


@pytest.mark.parametrize("flag", [["--offload_unsupported_operations_to_tf"],
                                  ["--tensorflow_operation_patterns", "Foo.*"],
                                  ["--tensorflow_custom_layer_libraries", "libops.so"]])
def test_offloading_to_tensorflow_is_refused_pointing_at_extensions(tmp_path, flag):
    model = conv_scale_model(tmp_path / "m.onnx")
    run = converter("--input_model", model, "--output_dir", tmp_path, *flag)
    assert run.returncode == 1 and "--extensions" in run.stderr and "Traceback" not in run.stderr
    assert not list(tmp_path.glob("*.xml"))
    key = flag[0][2:]
    message = manifest_error(tmp_path, f"{key} = {'true' if len(flag) == 1 else repr(flag[1])}")
    assert key in message and "--extensions" in message


# -- --freeze_placeholder_with_value, --input, --output -----------------------------------------
def test_freeze_placeholder_with_value_makes_inputs_constants(tmp_path):
    model = two_branch_model(tmp_path / "m.onnx")
    run = converter("--input_model", model, "--output_dir", tmp_path / "out", "--output", "y1",
                    "--freeze_placeholder_with_value", "flag->False,k->[3]")
    assert run.returncode == 0, run.stderr
    xml = tmp_path / "out" / "m.xml"
    assert ir_inputs(xml) == {"x": [1, 4]}  # z fed only the cut branch: gone with it
    assert ir_ops(xml)["Sigmoid"] == 0 and ir_ops(xml)["Convert"] == 0  # cut, folded
    np.testing.assert_allclose(run_openvino(xml, {"x": X4})["y1"], X4 * 3, rtol=1e-6)
    reference = run_onnxruntime(model, {"x": X4, "flag": np.array(False), "k": np.float32([3]),
                                        "z": X4})["y1"]
    np.testing.assert_allclose(run_openvino(xml, {"x": X4})["y1"], reference, rtol=1e-6)


def test_input_with_shapes_and_frozen_values_and_output(tmp_path):
    model = two_branch_model(tmp_path / "m.onnx")
    run = converter("--input_model", model, "--output_dir", tmp_path / "out",
                    "--input", "x[1 4],flag->True,k[1]->[0.5],z[1 4]", "--output", "y1,y2")
    assert run.returncode == 0, run.stderr
    xml = tmp_path / "out" / "m.xml"
    assert ir_inputs(xml) == {"x": [1, 4], "z": [1, 4]}
    got = run_openvino(xml, {"x": X4, "z": X4})
    np.testing.assert_allclose(got["y1"], (X4 + 1) * 0.5, rtol=1e-6)
    np.testing.assert_allclose(got["y2"], 1 / (1 + np.exp(-X4)) + X4, rtol=1e-5)


def test_freezing_both_ways_in_a_manifest(tmp_path):
    options = manifest_entry(tmp_path, 'freeze_placeholder_with_value = {flag = false, k = [3]}\n'
                                       'input = "x[1 4],z->[0 0 0 0]"\noutput = "y1"').options()
    assert options.frozen_inputs() == {"flag": (0.0,), "k": (3.0,), "z": (0.0,) * 4}
    assert options.output == ("y1",)
    assert manifest_entry(tmp_path, 'freeze_placeholder_with_value = "flag->False,k->[3]"') \
        .flags_key() == manifest_entry(tmp_path, 'freeze_placeholder_with_value = '
                                                 '{k = [3.0], flag = false}').flags_key()
    assert "freeze_placeholder_with_value" in manifest_error(
        tmp_path, 'freeze_placeholder_with_value = "flag=False"')


# -- --log_level, --silent, --version -----------------------------------------------------------
def test_version_names_the_converter_and_its_version():
    from converter import __version__

    run = converter("--version")
    assert run.returncode == 0 and f"converter {__version__}" in run.stdout


def test_silent_prints_errors_only(tmp_path):
    model = conv_scale_model(tmp_path / "m.onnx")
    run = converter("--input_model", model, "--output_dir", tmp_path, "--static_shape", "--silent")
    assert run.returncode == 0 and run.stdout == "" and run.stderr == ""
    failed = converter("--input_model", tmp_path / "nope.onnx", "--output_dir", tmp_path, "--silent")
    assert failed.returncode == 1 and failed.stderr.startswith("[ ERROR ]")
    loud = converter("--input_model", model, "--output_dir", tmp_path, "--silent", "--steps")
    assert loud.stdout == "" and "[ INFO ] pass constant_folding" in loud.stderr


def test_log_level_takes_mo_spellings(tmp_path):
    model = conv_scale_model(tmp_path / "m.onnx")
    warn = converter("--input_model", model, "--output_dir", tmp_path, "--log_level", "WARN",
                     "--static_shape")
    assert warn.returncode == 0 and "[ WARNING ] static_shape" in warn.stderr
    debug = converter("--input_model", model, "--output_dir", tmp_path, "--log_level", "debug")
    assert debug.returncode == 0 and "[ DEBUG ] pass fuse_linear_into_conv" in debug.stderr
    assert converter("--input_model", model, "--log_level", "LOUD").returncode == 2  # argparse


def test_log_level_and_silent_in_a_manifest_are_accepted(tmp_path):
    entry = manifest_entry(tmp_path, 'log_level = "DEBUG"\nsilent = true')
    assert [n.split(":")[0] for n in entry.options().inert_flag_notes()] == ["log_level", "silent"]
    assert entry.flags_key() == manifest_entry(tmp_path, "").flags_key()


# -- rt_info ------------------------------------------------------------------------------------
def rt_info(xml: Path) -> dict:
    def read(element):
        return {child.tag: child.get("value") if child.get("value") is not None else read(child)
                for child in element}
    return read(etree.parse(str(xml)).getroot().find("rt_info"))


def test_rt_info_records_the_converter_and_the_parameters_as_ovc_does(tmp_path):
    import openvino as ov

    from converter import __version__

    model = conv_scale_model(tmp_path / "m.onnx")
    xml = convert(model, tmp_path / "ours", mean_values="[1,2,3]", finegrain_fusing="conv")
    ours = rt_info(xml)
    assert ours["Converter_version"] == f"modelzoo-ir converter {__version__} (IR v11)"
    parameters = ours["conversion_parameters"]
    assert parameters["input_model"] == "DIR/m.onnx" and parameters["framework"] == "onnx"
    assert parameters["mean_values"] == '[["",[1.0,2.0,3.0]]]'
    assert parameters["finegrain_fusing"] == '["conv"]'
    ov.save_model(ov.convert_model(str(model)), str(tmp_path / "ovc.xml"))
    theirs = rt_info(tmp_path / "ovc.xml")
    assert "Runtime_version" in theirs  # ours: Converter_version, no OpenVINO took part
    assert set(theirs["conversion_parameters"]) - {"is_python_object"} <= set(parameters)


# -- TensorFlow: text graphs, NCHW inputs, TensorBoard, checkpoints and SavedModels -------------
@pytest.fixture(scope="module")
def tf_models(tmp_path_factory):
    """A conv net as a frozen graph (binary and text), a checkpoint with its meta graph, and a
    SavedModel tagged "serve" and "custom"; input x [1,6,6,3] (NHWC), output y."""
    from converter.frontends.tf.freeze import import_tensorflow

    tf = import_tensorflow()
    folder = tmp_path_factory.mktemp("tf")
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, [1, 6, 6, 3], name="x")
        scale = tf.compat.v1.placeholder_with_default(tf.constant(1.0), [], name="scale")
        kernel = tf.compat.v1.Variable(w, name="kernel")
        conv = tf.nn.conv2d(x, kernel, [1, 1, 1, 1], "SAME", name="conv")
        y = tf.nn.relu(tf.nn.bias_add(conv, b) * scale, name="y")
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver = tf.compat.v1.train.Saver()
            saver.save(session, str(folder / "model.ckpt"))
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(), ["y"])
            builder = tf.compat.v1.saved_model.Builder(str(folder / "saved"))
            signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(session, ["serve", "custom"],
                                                 signature_def_map={"serving_default": signature})
            builder.save()
    (folder / "model.pb").write_bytes(frozen.SerializeToString())
    (folder / "model.pbtxt").write_text(str(frozen))
    feed = rng.uniform(0, 1, (1, 6, 6, 3)).astype(np.float32)
    with tf.Graph().as_default() as check:
        tf.compat.v1.import_graph_def(frozen, name="")
        with tf.compat.v1.Session(graph=check) as session:
            expected = session.run("y:0", {"x:0": feed})
            halved = session.run("y:0", {"x:0": feed, "scale:0": 0.5})
    return {"tf": tf, "folder": folder, "x": feed, "y": expected, "halved": halved}


def check_tf_ir(xml: Path, tf_models, x=None, expected=None) -> None:
    x = tf_models["x"] if x is None else x
    got = run_openvino(xml, {"x": x})
    value = next(v for k, v in got.items() if k.split(":")[0] == "y")
    np.testing.assert_allclose(value, tf_models["y"] if expected is None else expected,
                               rtol=1e-4, atol=1e-4)


def test_input_model_is_text_on_the_command_line(tmp_path, tf_models):
    run = converter("--input_model", tf_models["folder"] / "model.pbtxt", "--input_model_is_text",
                    "--output_dir", tmp_path, "--model_name", "net")
    assert run.returncode == 0, run.stderr
    check_tf_ir(tmp_path / "net.xml", tf_models)


def test_input_model_is_text_in_a_manifest(tmp_path):
    assert manifest_entry(tmp_path, "input_model_is_text = true").options().input_model_is_text
    assert "input_model_is_text" in manifest_error(tmp_path, 'input_model_is_text = "maybe"')


@pytest.mark.parametrize("name", ["scale", "scale:0"])
def test_freeze_placeholder_with_value_on_a_tensorflow_graph(tmp_path, tf_models, name):
    run = converter("--input_model", tf_models["folder"] / "model.pb", "--output_dir", tmp_path,
                    "--freeze_placeholder_with_value", f"{name}->0.5")
    assert run.returncode == 0, run.stderr
    assert list(ir_inputs(tmp_path / "model.xml")) == ["x"]
    check_tf_ir(tmp_path / "model.xml", tf_models, expected=tf_models["halved"])


def test_nhwc_to_nchw_declares_image_inputs_nchw_as_mo_did(tmp_path, tf_models):
    pb = tf_models["folder"] / "model.pb"
    run = converter("--input_model", pb, "--output_dir", tmp_path / "nchw", "--nhwc_to_nchw")
    assert run.returncode == 0, run.stderr
    nchw = tmp_path / "nchw" / "model.xml"
    assert ir_inputs(nchw)["x"] == [1, 3, 6, 6]
    check_tf_ir(nchw, tf_models, x=np.ascontiguousarray(tf_models["x"].transpose(0, 3, 1, 2)))
    assert converter("--input_model", pb, "--output_dir", tmp_path / "nhwc").returncode == 0
    nhwc = tmp_path / "nhwc" / "model.xml"
    assert ir_inputs(nhwc)["x"] == [1, 6, 6, 3]
    # the input's layout Transpose cancels: fewer Transposes than with NHWC inputs
    assert ir_ops(nchw)["Transpose"] < ir_ops(nhwc)["Transpose"]
    with_mean = converter("--input_model", pb, "--output_dir", tmp_path / "mean", "--nhwc_to_nchw",
                          "--mean_values", "x[1,2,3]", "--reverse_input_channels")
    assert with_mean.returncode == 0, with_mean.stderr
    x = tf_models["x"] * 255
    prepared = (x[..., ::-1] - np.float32([1, 2, 3])).astype(np.float32)
    expected = run_openvino(nhwc, {"x": np.ascontiguousarray(prepared)})
    check_tf_ir(tmp_path / "mean" / "model.xml", tf_models,
                x=np.ascontiguousarray(x.transpose(0, 3, 1, 2)),
                expected=next(iter(expected.values())))


def test_disable_nhwc_to_nchw_keeps_the_inputs_nhwc(tmp_path, tf_models):
    pb = tf_models["folder"] / "model.pb"
    run = converter("--input_model", pb, "--output_dir", tmp_path, "--disable_nhwc_to_nchw")
    assert run.returncode == 0, run.stderr
    assert ir_inputs(tmp_path / "model.xml")["x"] == [1, 6, 6, 3]
    check_tf_ir(tmp_path / "model.xml", tf_models)
    both = converter("--input_model", pb, "--output_dir", tmp_path, "--disable_nhwc_to_nchw",
                     "--nhwc_to_nchw")
    assert both.returncode == 1 and "opposite" in both.stderr


def test_nchw_flags_in_a_manifest(tmp_path):
    assert manifest_entry(tmp_path, "nhwc_to_nchw = true").options().nhwc_to_nchw
    assert manifest_entry(tmp_path, "disable_nhwc_to_nchw = true").options().disable_nhwc_to_nchw
    assert "opposite" in manifest_error(tmp_path, "nhwc_to_nchw = true\ndisable_nhwc_to_nchw = true")


def test_tensorboard_logdir_writes_the_input_graph(tmp_path, tf_models):
    tf = tf_models["tf"]
    run = converter("--input_model", tf_models["folder"] / "model.pb", "--output_dir", tmp_path,
                    "--tensorboard_logdir", tmp_path / "tb")
    assert run.returncode == 0, run.stderr
    (events,) = (tmp_path / "tb").glob("events.out.tfevents.*")
    graphs = [event.graph_def for event in tf.compat.v1.train.summary_iterator(str(events))
              if event.graph_def]
    graph_def = tf.compat.v1.GraphDef.FromString(graphs[0])
    assert {"x", "conv", "y"} <= {node.name for node in graph_def.node}


def test_tensorboard_logdir_in_a_manifest_lies_beside_it_and_keys_nothing(tmp_path):
    entry = manifest_entry(tmp_path, 'tensorboard_logdir = "tb"')
    assert entry.options().tensorboard_logdir == str(tmp_path / "tb")
    assert entry.flags_key() == manifest_entry(tmp_path, "").flags_key()


def test_checkpoint_and_meta_graph_on_the_command_line(tmp_path, tf_models):
    from converter.cli import main

    folder = tf_models["folder"]
    code = main(["--input_meta_graph", str(folder / "model.ckpt.meta"), "--input_checkpoint",
                 str(folder / "model.ckpt"), "--output", "y", "--output_dir", str(tmp_path),
                 "--silent"])
    assert code == 0
    check_tf_ir(tmp_path / "model.ckpt.xml", tf_models)


def test_saved_model_dir_and_tags_on_the_command_line(tmp_path, tf_models):
    from converter.cli import main

    saved = str(tf_models["folder"] / "saved")
    assert main(["--saved_model_dir", saved, "--saved_model_tags", "serve,custom",
                 "--output_dir", str(tmp_path), "--silent"]) == 0
    check_tf_ir(tmp_path / "saved.xml", tf_models)
    assert main(["--saved_model_dir", saved, "--saved_model_tags", "train",
                 "--output_dir", str(tmp_path / "no"), "--silent"]) == 1


def test_saved_model_tags_in_a_manifest(tmp_path):
    assert manifest_entry(tmp_path, 'saved_model_tags = "serve,custom"').options() \
        .saved_model_tags == ("serve", "custom")
    assert manifest_entry(tmp_path, 'saved_model_tags = ["serve", "custom"]').flags_key() == \
        manifest_entry(tmp_path, 'saved_model_tags = "serve,custom"').flags_key()


def test_unknown_frozen_value_text_is_refused():
    with pytest.raises(UserInputError, match="freeze_placeholder_with_value"):
        ConversionOptions.from_flags({"freeze_placeholder_with_value": "a->[1,x]"})


@pytest.mark.parametrize("spelling,cut", [("conv:0", "conv"), ("0:BiasAdd", "conv"), ("0:y", "mul")])
def test_tensorflow_input_names_as_name_port_and_port_name(tmp_path, tf_models, spelling, cut):
    from modelzoo.runtime import run_tf_graph

    pb = tf_models["folder"] / "model.pb"
    run = converter("--input_model", pb, "--output_dir", tmp_path, "--input",
                    f"{spelling}[1 6 6 4]")
    assert run.returncode == 0, run.stderr
    assert ir_inputs(tmp_path / "model.xml") == {cut: [1, 6, 6, 4]}
    v = np.random.default_rng(5).standard_normal((1, 6, 6, 4)).astype(np.float32)
    got = next(iter(run_openvino(tmp_path / "model.xml", {cut: v}).values()))
    np.testing.assert_allclose(got, run_tf_graph(pb, {f"{cut}:0": v}, ["y:0"])["y:0"],
                               rtol=1e-5, atol=1e-5)


def test_tensorflow_input_names_that_cannot_be_cut_are_refused(tmp_path, tf_models):
    pb = tf_models["folder"] / "model.pb"
    for spelling, message in (("conv:1", "output 1"), ("3:conv", "no input 3"),
                              ("nope:0", "no node")):
        run = converter("--input_model", pb, "--output_dir", tmp_path, "--input",
                        f"{spelling}[1 6 6 4]")
        assert run.returncode == 1 and message in run.stderr, run.stderr


def test_tensorflow_input_names_in_a_manifest(tmp_path):
    options = manifest_entry(tmp_path, 'input = "0:y[1 6 6 4],x:0"\noutput = "y:0"').options()
    assert [cut.name for cut in options.input] == ["0:y", "x:0"]
    assert options.input[0].shape == (1, 6, 6, 4) and options.output == ("y:0",)


def test_input_cuts_an_onnx_model_at_an_inner_tensor(tmp_path):
    """--input names the tensor the Conv computes: the Conv and x are dropped, `c` is the input
    (its type and shape from ONNX shape inference) and the Relu of c * scale is what is left."""
    model = conv_scale_model(tmp_path / "m.onnx")
    run = converter("--input_model", model, "--output_dir", tmp_path / "out", "--input", "c")
    assert run.returncode == 0, run.stderr
    xml = tmp_path / "out" / "m.xml"
    assert ir_inputs(xml) == {"c": [1, 4, 6, 6]} and ir_ops(xml)["Convolution"] == 0
    c = np.random.default_rng(2).standard_normal((1, 4, 6, 6)).astype(np.float32)
    import onnx

    scale = onnx.numpy_helper.to_array(onnx.load(str(model)).graph.initializer[1])
    np.testing.assert_allclose(run_openvino(xml, {"c": c})["y"], np.maximum(c * scale, 0),
                               rtol=1e-6)
    frozen = converter("--input_model", model, "--output_dir", tmp_path / "frozen", "--input",
                       "m[1 4 6 6]->[" + " ".join(["-1", "2"] * 72) + "]", "--output", "y")
    assert frozen.returncode == 0, frozen.stderr
    assert ir_inputs(tmp_path / "frozen" / "m.xml") == {}  # y is a constant now
    np.testing.assert_array_equal(run_openvino(tmp_path / "frozen" / "m.xml", {})["y"],
                                  np.float32([0, 2] * 72).reshape(1, 4, 6, 6))


def test_verification_feeds_the_source_the_values_frozen_by_freeze_placeholder_with_value():
    from modelzoo.verify.run import frozen_value
    from modelzoo.verify.source import TensorInfo

    flags = {"freeze_placeholder_with_value": "phase_train->False,k->[3 4]"}
    flag = frozen_value(flags, TensorInfo("phase_train", "bool", ()))
    assert flag.dtype == np.bool_ and flag.shape == () and not flag
    np.testing.assert_array_equal(frozen_value(flags, TensorInfo("k", "float32", (1, 2))),
                                  np.float32([[3, 4]]))
    assert frozen_value(flags, TensorInfo("x", "float32", (1, 4))) is None
