"""Verification inside the pipeline: what is cached and what is not, the bytes a verdict is
about, and the original SavedModel as the reference."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from doit_runner import run_doit
from modelzoo.manifest import load_manifest
from modelzoo.tasks import ZooTasks
from zoo_fixtures import small_zoo_manifest

pytestmark = pytest.mark.slow


def verify_entries(manifest: Path) -> list[Path]:
    return sorted((manifest.parent / "cache" / "verify").glob("*/*/verify.json"))


def test_verifier_that_cannot_start_caches_nothing(local_zoo, tmp_path, monkeypatch):
    manifest = small_zoo_manifest(local_zoo, tmp_path / "zoo")
    broken = tmp_path / "no-openvino" / "openvino"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('openvino is broken in this test')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken.parent))
    failed = run_doit("convert", manifest=manifest)
    assert failed.code != 0
    assert "could not verify" in failed.out and "OpenVINO cannot be imported" in failed.out
    assert "nothing was cached" in failed.out
    assert verify_entries(manifest) == [], "a check that could not run must leave no verdict"
    assert not list((manifest.parent / "ir").rglob("verify.json"))
    monkeypatch.delenv("PYTHONPATH")
    again = run_doit("convert", manifest=manifest)
    assert again.code == 0, again.out + again.err
    assert again.executed("verify:") == {"verify:tiny-cnn-onnx-FP32", "verify:small-cnn-savedmodel-FP32"}
    assert again.executed("convert:") <= {"convert:tiny-cnn-onnx", "convert:small-cnn-savedmodel"}, \
        "the IRs were fine: only the checks run again"
    assert len(verify_entries(manifest)) == 2


def test_tampered_ir_is_put_back_before_it_is_checked(local_zoo, tmp_path):
    manifest = small_zoo_manifest(local_zoo, tmp_path / "zoo")
    assert run_doit("convert", manifest=manifest).code == 0
    binary = manifest.parent / "ir" / "tiny-cnn-onnx" / "FP32" / "tiny-cnn-onnx.bin"
    good = binary.read_bytes()
    tampered = bytearray(good)
    tampered[len(tampered) // 2] ^= 0xFF
    binary.write_bytes(bytes(tampered))
    rerun = run_doit("convert", manifest=manifest)
    assert rerun.code == 0, rerun.out + rerun.err
    assert "verify:tiny-cnn-onnx-FP32" in rerun.executed("verify:")
    assert "differs from the IR that was converted" in rerun.err, rerun.out + rerun.err
    assert binary.read_bytes() == good
    # and without the converted IR in the cache, it is converted again: still the right bytes
    binary.write_bytes(bytes(tampered))
    shutil.rmtree(manifest.parent / "cache" / "ir")
    assert run_doit("convert", manifest=manifest).code == 0
    assert binary.read_bytes() == good


def test_verdict_is_keyed_on_runtime_versions(local_zoo, tmp_path, monkeypatch):
    import modelzoo.tasks as tasks

    manifest = small_zoo_manifest(local_zoo, tmp_path / "zoo")
    entry = load_manifest(manifest).models[0]
    before = ZooTasks(manifest).verify_key(entry, "FP32")
    monkeypatch.setattr(tasks, "runtime_versions", lambda names: {"openvino": "9999.0"})
    assert ZooTasks(manifest).verify_key(entry, "FP32") != before


def test_report_records_reference_inputs_and_types(local_zoo, tmp_path):
    manifest = small_zoo_manifest(local_zoo, tmp_path / "zoo")
    assert run_doit("convert", manifest=manifest).code == 0
    report = json.loads((manifest.parent / "ir" / "small-cnn-savedmodel" / "FP32" / "verify.json").read_text())
    assert report["passed"]
    assert report["reference"]["runtime"] == "tensorflow" and report["reference"]["version"]
    assert "SavedModel" in report["reference"]["detail"], "the original SavedModel is the reference"
    assert report["source_kind"] == "saved_model"
    assert report["inputs"][0]["kind"] == "image" and report["inputs"][0]["high"] == 1.0
    assert report["outputs"][0]["name"] == "prob"
    assert report["outputs"][0]["ir_element_type"] == report["outputs"][0]["source_element_type"] == "float32"


def test_freezing_bug_shows_against_the_original_saved_model(local_zoo, tmp_path):
    """A frozen graph that differs from its SavedModel gives an IR that fails verification
    against the SavedModel (against the frozen copy it would pass)."""
    import tarfile

    import converter
    from converter.frontends.tf.freeze import freeze_saved_model
    from modelzoo.localzoo_tf import SAVED_MODEL_DIR
    from modelzoo.verify import SourceModel, verify_ir

    with tarfile.open(local_zoo / "archives" / "small_cnn_savedmodel.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    saved_model = tmp_path / SAVED_MODEL_DIR
    frozen = freeze_saved_model(saved_model)
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(frozen.graph_def)
    kernel = next(n for n in graph_def.node if n.op == "Const" and len(n.attr["value"].tensor.tensor_content) > 400)
    values = np.frombuffer(kernel.attr["value"].tensor.tensor_content, np.float32) * np.float32(1.05)
    kernel.attr["value"].tensor.tensor_content = values.tobytes()
    (tmp_path / "wrong.pb").write_bytes(graph_def.SerializeToString())
    source = SourceModel(saved_model, "tf", "saved_model")
    right = converter.convert(saved_model, tmp_path / "right", "right", input_shape=[1, 32, 32, 3])
    wrong = converter.convert(tmp_path / "wrong.pb", tmp_path / "wrong", "wrong", input_shape=[1, 32, 32, 3])
    assert verify_ir(right, source)["passed"]
    report = verify_ir(wrong, SourceModel(saved_model, "tf", "saved_model"))
    assert not report["passed"]
    assert verify_ir(wrong, tmp_path / "wrong.pb")["passed"], "the frozen copy cannot show the bug"


def test_verify_inputs_file_is_fed_and_keys_the_check(local_zoo, tmp_path):
    folder = tmp_path / "zoo"
    folder.mkdir()
    rng = np.random.default_rng(5)
    samples = {"data": rng.uniform(0, 1, (1, 3, 32, 32)).astype(np.float32),
               "input": rng.uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)}
    np.savez(folder / "samples.npz", **samples)
    manifest = small_zoo_manifest(local_zoo, folder, 'verify_inputs = "samples.npz"')
    first = run_doit("convert", manifest=manifest)
    assert first.code == 0, first.out + first.err
    report = json.loads((folder / "ir" / "tiny-cnn-onnx" / "FP32" / "verify.json").read_text())
    [fed] = report["inputs"]
    assert fed["kind"] == "file" and fed["file"].endswith("samples.npz")
    assert fed["high"] == pytest.approx(float(samples["data"].max()))
    samples["data"] = samples["data"] * 2
    np.savez(folder / "samples.npz", **samples)
    second = run_doit("convert", manifest=manifest)
    assert second.code == 0
    assert second.executed("verify:") == {"verify:tiny-cnn-onnx-FP32", "verify:small-cnn-savedmodel-FP32"}
    assert second.executed("convert:") <= {"convert:tiny-cnn-onnx", "convert:small-cnn-savedmodel"}
    report = json.loads((folder / "ir" / "tiny-cnn-onnx" / "FP32" / "verify.json").read_text())
    assert report["inputs"][0]["high"] == pytest.approx(float(samples["data"].max()))
