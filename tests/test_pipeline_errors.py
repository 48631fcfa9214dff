"""Bad input through the whole pipeline: each bad model fails alone, with one clear message that
names it, leaves nothing half-written, and the good model beside it is still built."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from doit_runner import run_doit
from tinymodels import conv_weights, write_onnx_conv_relu

pytestmark = pytest.mark.slow


def tar_gz(members: dict[str, bytes], symlinks: dict[str, str] | None = None,
           links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.LNKTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def mismatched_onnx() -> bytes:
    """MatMul of [1,4] by [5,2]: the static shapes do not fit."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((5, 2), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="the_matmul")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def unsupported_onnx() -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("ImageDecoder", ["x"], ["y"], name="the_decoder")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad-zoo")
    good = write_onnx_conv_relu(folder / "good.onnx", *conv_weights()).read_bytes()
    archives = {
        "good": tar_gz({"good/model.onnx": good}),
        "wrong-checksum": tar_gz({"m/model.onnx": good}),
        "truncated": tar_gz({"m/model.onnx": good})[:300],
        "escaping": tar_gz({"../escape/model.onnx": good}),
        "abs-symlink": tar_gz({"m/model.onnx": good}, symlinks={"m/link": "/etc/passwd"}),
        "no-model": tar_gz({"m/README.txt": b"nothing to convert here"}),
        "corrupt-model": tar_gz({"m/model.onnx": b"\x08\x07garbage" * 10}),
        "unsupported-op": tar_gz({"m/model.onnx": unsupported_onnx()}),
        "hard-link-out": tar_gz({"m/model.onnx": good}, links={"m/link": "../../etc/passwd"}),
        "bomb": tar_gz({"m/model.onnx": good, "m/zeros": bytes(200_000)}),
        "onnx-as-tf": tar_gz({"m/model.pb": good}),
        "shape-mismatch": tar_gz({"m/model.onnx": mismatched_onnx()}),
        "wrong-mean-count": tar_gz({"m/model.onnx": good}),
    }
    extra = {"bomb": "max_unpacked_bytes = 100000", "onnx-as-tf": 'framework = "tf"',
             "wrong-mean-count": "mean_values = [1.0, 2.0]"}
    lines = ["[defaults]", 'precisions = ["FP32"]', ""]
    for name, data in archives.items():
        (folder / f"{name}.tar.gz").write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if name == "wrong-checksum":
            digest = hashlib.sha256(b"something else").hexdigest()
        lines += [f'["{name}"]', f'url = "{name}.tar.gz"', f'sha256 = "{digest}"', extra.get(name, ""), ""]
    (folder / "models.toml").write_text("\n".join(lines))
    return folder


@pytest.fixture(scope="module")
def build(zoo):
    return run_doit("convert", manifest=zoo / "models.toml")


EXPECTED = {
    "wrong-checksum": "sha256",
    "truncated": "truncated",
    "escaping": "..",
    "abs-symlink": "link",
    "no-model": "holds no ONNX file",
    "corrupt-model": "model.onnx",
    "unsupported-op": "the_decoder",
    "hard-link-out": "link",
    "bomb": "100000 bytes",
    "onnx-as-tf": "model.pb",
    "shape-mismatch": "the_matmul",
    "wrong-mean-count": "mean_values",
}


def failure_text(run, name: str) -> str:
    """The messages doit printed for this model's failed tasks."""
    blocks = (run.out + run.err).split("TaskFailed - taskid:")
    return "\n".join(b for b in blocks[1:] if b.split("\n", 1)[0].split(":", 1)[1].startswith(f"{name}"))


def test_the_good_model_is_built_despite_the_bad_ones(zoo, build):
    assert build.code != 0
    assert (zoo / "ir/good/FP32/good.xml").is_file()
    assert '"passed": true' in (zoo / "ir/good/FP32/verify.json").read_text()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_model_fails_with_a_clear_message_and_leaves_nothing(zoo, build, name):
    text = failure_text(build, name)
    assert text, f"no failure reported for {name}:\n{build.out}\n{build.err}"
    assert f"model '{name}'" in text and "models.toml" in text
    assert EXPECTED[name].lower() in text.lower()
    assert "Traceback" not in text
    assert not (zoo / "ir" / name).exists()
    leftovers = [p for p in (zoo / "cache").rglob("*") if ".staging" in p.name or p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_malformed_manifest_names_the_file_model_and_key(tmp_path):
    manifest = tmp_path / "models.toml"
    manifest.write_text('["m"]\nurl = "m.onnx"\nsha256 = "' + "0" * 64 + '"\ninput_shap = "[1,3]"\n')
    run = run_doit("list", manifest=manifest)
    assert run.code != 0
    assert "models.toml" in run.err and "'m'" in run.err and "input_shap" in run.err
    assert "input_shape" in run.err  # the close name is suggested
    assert "Traceback" not in run.err
