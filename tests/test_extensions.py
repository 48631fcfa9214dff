"""--extensions FOLDER: user passes and op handlers loaded from Python files (converter.extensions)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from converter import convert
from converter.errors import UnsupportedOpsError, UserInputError
from modelzoo.errors import ManifestError
from modelzoo.manifest import load_manifest
from modelzoo.runtime import run_openvino

X = np.array([[-2.0, -0.5, 0.0, 1.5]], np.float32)
SIGMOID_PASS = '''
AFTER = "constant_folding"
NAME = "relu_to_sigmoid"

def run(graph, options):
    """Every ReLU becomes a Sigmoid."""
    changed = 0
    for node in graph.nodes():
        if node.op == "ReLU":
            node.op = "Sigmoid"
            changed += 1
    return changed
'''
DOUBLE_HANDLERS = '''
import numpy as np

def double(ctx):
    return ctx.op("Multiply", ctx.input(0), ctx.graph.const(np.float32(2), name=ctx.name + "/two"),
                  auto_broadcast="numpy")

ONNX_HANDLERS = {"com.example.Double": double}
TF_HANDLERS = {"Double": double}
'''


def folder_with(tmp_path: Path, name: str, **files: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for stem, text in files.items():
        (folder / f"{stem}.py").write_text(textwrap.dedent(text))
    return folder


def ops(xml: Path) -> Counter:
    return Counter(layer.get("type") for layer in etree.parse(str(xml)).iter("layer"))


def relu_model(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def custom_op_model(path: Path) -> Path:
    """y = Relu(com.example.Double(x)): an op of a domain no converter knows."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Double", ["x"], ["d"], domain="com.example"),
                               helper.make_node("Relu", ["d"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.example", 1)])
    onnx.save(model, str(path))
    return path


TF_TEXT_GRAPH = '''
node { name: "x" op: "Placeholder"
       attr { key: "dtype" value { type: DT_FLOAT } }
       attr { key: "shape" value { shape { dim { size: 1 } dim { size: 4 } } } } }
node { name: "d" op: "Double" input: "x" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "y" op: "Relu" input: "d" attr { key: "T" value { type: DT_FLOAT } } }
'''


def test_a_user_pass_runs_where_it_says_and_shows_in_steps(tmp_path):
    model = relu_model(tmp_path / "m.onnx")
    ext = folder_with(tmp_path, "ext", sigmoid=SIGMOID_PASS)
    run = subprocess.run([sys.executable, "-m", "converter", "--input_model", str(model),
                          "--output_dir", str(tmp_path / "out"), "--extensions", str(ext), "--steps"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    xml = tmp_path / "out" / "m.xml"
    assert ops(xml)["Sigmoid"] == 1 and ops(xml)["ReLU"] == 0
    np.testing.assert_allclose(run_openvino(xml, {"x": X})["y"], 1 / (1 + np.exp(-X)), rtol=1e-6)
    passes = [line.split(":")[0].removeprefix("[ INFO ] pass ") for line in run.stderr.splitlines()
              if line.startswith("[ INFO ] pass ")]
    assert passes[:3] == ["remove_noop_nodes", "constant_folding", "relu_to_sigmoid (extension)"]
    assert "relu_to_sigmoid (extension): 3 -> 3 nodes, 1 rewrite(s)" in run.stderr


def test_handlers_convert_ops_no_frontend_knows_and_are_gone_afterwards(tmp_path):
    from converter.frontends.onnx.handlers import registry

    model = custom_op_model(tmp_path / "m.onnx")
    with pytest.raises(UnsupportedOpsError, match="com.example.Double"):
        convert(model, tmp_path / "plain")
    ext = folder_with(tmp_path, "ext", double=DOUBLE_HANDLERS)
    xml = convert(model, tmp_path / "out", extensions=str(ext))
    np.testing.assert_allclose(run_openvino(xml, {"x": X})["y"], np.maximum(2 * X, 0), rtol=1e-6)
    assert registry.lookup("com.example.Double", 13) is None  # registered for that conversion only
    assert registry.lookup("Relu", 13) is not None


def test_a_tensorflow_handler_from_an_extension(tmp_path):
    from converter.frontends.tf.handlers import registry

    graph = tmp_path / "g.pbtxt"
    graph.write_text(TF_TEXT_GRAPH)
    ext = folder_with(tmp_path, "ext", double=DOUBLE_HANDLERS)
    xml = convert(graph, tmp_path, input_model_is_text=True, extensions=[str(ext)])
    got = next(v for k, v in run_openvino(xml, {"x": X}).items() if k.startswith("y"))
    np.testing.assert_allclose(got, np.maximum(2 * X, 0), rtol=1e-6)
    assert registry.lookup("Double") is None


def test_an_extension_may_replace_a_built_in_handler(tmp_path):
    model = relu_model(tmp_path / "m.onnx")
    ext = folder_with(tmp_path, "ext", relu='''
        def as_abs(ctx):
            return ctx.op("Abs", ctx.input(0))

        ONNX_HANDLERS = {"Relu": as_abs}
    ''')
    xml = convert(model, tmp_path, extensions=str(ext))
    np.testing.assert_allclose(run_openvino(xml, {"x": X})["y"], np.abs(X))
    assert ops(convert(model, tmp_path / "again"))["ReLU"] == 1


@pytest.mark.parametrize("files,message", [
    ({"empty": "X = 1\n"}, "defines no `run` pass"),
    ({"where": "def run(graph, options):\n    return 0\n"}, "exactly one of AFTER"),
    ({"where": 'AFTER = "nope"\ndef run(graph, options):\n    return 0\n'}, "'nope', which is not a pass"),
    ({"broken": "import no_such_module_here\n"}, "failed to load"),
    ({"table": "ONNX_HANDLERS = {'Relu': 3}\n"}, "ONNX_HANDLERS must be a dict"),
])
def test_a_malformed_extension_is_refused_naming_its_file(tmp_path, files, message):
    model = relu_model(tmp_path / "m.onnx")
    ext = folder_with(tmp_path, "ext", **files)
    with pytest.raises(UserInputError, match=message) as caught:
        convert(model, tmp_path, extensions=str(ext))
    assert f"{next(iter(files))}.py" in str(caught.value)


def test_an_extension_that_raises_is_the_users_fault_not_a_converter_bug(tmp_path):
    model = relu_model(tmp_path / "m.onnx")
    ext = folder_with(tmp_path, "ext", boom='''
        BEFORE = "compress_fp16"
        def run(graph, options):
            raise KeyError("oops")
    ''')
    run = subprocess.run([sys.executable, "-m", "converter", "--input_model", str(model),
                          "--output_dir", str(tmp_path), "--extensions", str(ext)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr  # 2 would say "converter bug"
    assert "boom.py" in run.stderr and "KeyError" in run.stderr and "pass boom" in run.stderr


def test_a_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(UserInputError, match="not a folder"):
        convert(relu_model(tmp_path / "m.onnx"), tmp_path, extensions=str(tmp_path / "nope"))


def test_extensions_in_a_manifest_lie_beside_it_and_their_code_keys_the_cache(tmp_path):
    folder_with(tmp_path, "ext", sigmoid=SIGMOID_PASS)
    manifest = tmp_path / "zoo.toml"
    manifest.write_text(f'[net]\nurl = "https://example.org/net.tar.gz"\nsha256 = "{"a" * 64}"\n'
                        'extensions = "ext"\n')
    entry = load_manifest(manifest)["net"]
    assert entry.options().extensions == (str(tmp_path / "ext"),)
    key = entry.flags_key()
    assert str(tmp_path) not in key  # where the folder lies does not key the IR
    (tmp_path / "ext" / "sigmoid.py").write_text(SIGMOID_PASS + "\n# edited\n")
    assert load_manifest(manifest)["net"].flags_key() != key
    manifest.write_text(manifest.read_text().replace('"ext"', '["ext"]'))
    assert load_manifest(manifest)["net"].options().extensions == (str(tmp_path / "ext"),)
    manifest.write_text(manifest.read_text().replace('["ext"]', "3"))
    with pytest.raises(ManifestError, match="extensions"):
        load_manifest(manifest)


def test_user_passes_keep_the_order_of_their_files_around_an_anchor():
    from converter.options import ConversionOptions
    from converter.passes import UserPass, planned_passes

    def noop(graph, options):
        return 0

    users = [UserPass(name, noop, "preprocessing", where) for name, where in
             (("a", "after"), ("b", "after"), ("c", "before"), ("d", "before"))]
    names = [name for name, _ in planned_passes(ConversionOptions(), users)]
    at = names.index("preprocessing")
    assert names[at - 2:at + 3] == ["c", "d", "preprocessing", "a", "b"]
    off = [name for name, _ in planned_passes(ConversionOptions(disable_fusing=True),
                                              [UserPass("e", noop, "fuse_linear_into_conv", "after")])]
    assert "e" in off and "fuse_linear_into_conv" not in off
