"""Keras applications end to end, as a user meets them: SavedModel archives written by current
TensorFlow (with `fingerprint.pb` beside `saved_model.pb`) and a frozen graph, converted with
`python -m converter` and built with `doit convert` from a manifest of url, sha256 and the
Model Optimizer's preprocessing flags, the archives served over loopback HTTP.

The models are the ones `test_tf_keras_apps.py` checks op by op (seeded `weights=None`, batch
norms calibrated), written the ways a user writes them: `model.export` (MobileNetV2),
`tf.saved_model.save` (EfficientNetB0), a frozen GraphDef (ResNet50). Each takes 0..255 RGB
pixels through the flags its application's `preprocess_input` corresponds to, so the command
line check feeds raw pixels to the IR and compares with the Keras model on preprocessed ones.
"""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from doit_runner import run_doit
from httpserver import serving
from modelzoo.runtime import run_openvino
from test_tf_keras_apps import (APPLICATIONS, FP16_TOLERANCE, FP32_TOLERANCE, SEED,
                                calibrated_application, frozen_graph, preprocessed,
                                relative_error, structured_picture)
from tf_support import feeds_for

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
FALLBACK = "through TensorFlow"  # what the log says when our SavedModel reader gave up


@dataclass(frozen=True)
class ZooModel:
    """A manifest entry: which application, how it is written into its archive, and the mo
    flags that make the IR take 0..255 RGB pixels as its application's preprocessing does."""

    application: str
    written_by: str                 # "export" | "saved_model_save" | "frozen"
    flags: dict[str, object]


ZOO = {
    "mobilenet-v2-keras": ZooModel("MobileNetV2", "export",
                                   {"mean_values": "[127.5,127.5,127.5]", "scale_values": "[127.5]"}),
    "efficientnet-b0-keras": ZooModel("EfficientNetB0", "saved_model_save", {}),
    "resnet-50-keras": ZooModel("ResNet50", "frozen",  # caffe-style: BGR, means subtracted
                                {"mean_values": "[103.939,116.779,123.68]",
                                 "reverse_input_channels": True}),
}


@dataclass
class Written:
    """A model written to disk, with TensorFlow's logits for the test pixels."""

    name: str
    model_path: Path                # the SavedModel folder or the .pb
    archive: bytes
    input_name: str                 # the IR's input
    output_name: str                # and output, as a user feeds and reads them
    pixels: np.ndarray
    expected: np.ndarray


def write_model(tf, name: str, root: Path) -> Written:
    """Build the application, write it as its zoo entry says, archive its folder (tar.gz)."""
    entry = ZOO[name]
    size, module = APPLICATIONS[entry.application]
    model = calibrated_application(tf, entry.application)
    folder = root / name
    folder.mkdir(parents=True)
    if entry.written_by == "frozen":
        graph_def, output_name = frozen_graph(tf, model, size)
        model_path, input_name = folder / "frozen_graph.pb", "input"
        model_path.write_bytes(graph_def.SerializeToString())
    else:
        model_path = folder / "saved_model"
        if entry.written_by == "export":
            model.export(str(model_path), verbose=False)
        else:
            tf.saved_model.save(model, str(model_path))
        assert (model_path / "fingerprint.pb").is_file(), "current TF writes fingerprint.pb"
        input_name, output_name = serving_signature_names(model_path)
    pixels = structured_picture(size, SEED)
    expected = np.asarray(model(preprocessed(tf.keras, module, pixels), training=False))
    tf.keras.backend.clear_session()
    return Written(name, model_path, tar_gz(folder), input_name, output_name, pixels, expected)


def serving_signature_names(folder: Path) -> tuple[str, str]:
    """The serving signature's input and output names, read with TensorFlow's own message
    class (as `saved_model_cli show` does): the names a user feeds and reads."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((folder / "saved_model.pb").read_bytes())
    signature = saved.meta_graphs[0].signature_def["serving_default"]
    (input_name,), (output_name,) = list(signature.inputs), list(signature.outputs)
    return input_name, output_name


def tar_gz(folder: Path) -> bytes:
    """The folder as a .tar.gz whose members start with the folder's name, as zoo archives do."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return out.getvalue()


@pytest.fixture(scope="module")
def written(tf, tmp_path_factory) -> dict[str, Written]:
    root = tmp_path_factory.mktemp("keras_zoo")
    return {name: write_model(tf, name, root / "models") for name in ZOO}


def cli_flags(flags: dict[str, object]) -> list[str]:
    """mo's command-line form of manifest flags (`True` is a bare switch)."""
    args = []
    for key, value in flags.items():
        args += [f"--{key}"] if value is True else [f"--{key}", str(value)]
    return args


def manifest_value(value: object) -> str:
    return "true" if value is True else json.dumps(value)


def zoo_manifest(folder: Path, urls: dict[str, tuple[str, bytes]]) -> Path:
    """A manifest listing each model by url, sha256, size, input_shape and its mo flags."""
    lines = ['[defaults]', 'precisions = ["FP32", "FP16"]',
             f'tolerance = {{ FP32 = {FP32_TOLERANCE}, FP16 = {FP16_TOLERANCE} }}', '']
    for name, (url, data) in urls.items():
        size, _ = APPLICATIONS[ZOO[name].application]
        lines += [f'["{name}"]', f'url = "{url}"', f'sha256 = "{hashlib.sha256(data).hexdigest()}"',
                  f'size = {len(data)}', f'input_shape = [1, {size}, {size}, 3]']
        lines += [f"{key} = {manifest_value(value)}" for key, value in ZOO[name].flags.items()]
        lines.append("")
    manifest = folder / "models.toml"
    manifest.write_text("\n".join(lines))
    return manifest


@pytest.fixture(scope="module")
def zoo_build(written, tmp_path_factory):
    """A cold `doit -n 2 convert` of the three archives, served over loopback HTTP."""
    folder = tmp_path_factory.mktemp("keras_zoo_build")
    with serving() as server:
        urls = {name: (server.add(f"/{name}.tar.gz", model.archive), model.archive)
                for name, model in written.items()}
        manifest = zoo_manifest(folder, urls)
        run = run_doit("-n", "2", "convert", manifest=manifest, timeout=900)
    return manifest, run


@pytest.mark.parametrize("name", list(ZOO))
def test_command_line_converts_what_tensorflow_computes(written, tmp_path, name):
    """`python -m converter` on the SavedModel folder (our reader, no TensorFlow fallback) or
    the frozen graph, with the preprocessing flags; the IR on raw pixels gives Keras' logits."""
    model = written[name]
    source = (["--saved_model_dir", str(model.model_path)] if model.model_path.is_dir()
              else ["--input_model", str(model.model_path)])
    size, _ = APPLICATIONS[ZOO[name].application]
    command = [sys.executable, "-m", "converter", *source, "--output_dir", str(tmp_path),
               "--model_name", name, "--input_shape", f"[1,{size},{size},3]",
               *cli_flags(ZOO[name].flags)]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert FALLBACK not in result.stderr, f"{name}: our reader fell back: {result.stderr}"
    xml = tmp_path / f"{name}.xml"
    assert f"[ SUCCESS ] XML file: {xml}" in result.stdout
    outputs = run_openvino(xml, feeds_for({model.input_name: model.pixels}))
    assert model.output_name in outputs, sorted(outputs)
    error = relative_error(outputs[model.output_name], model.expected)
    assert error <= FP32_TOLERANCE, f"{name}: error {error:.2e} of the output's range"


def test_doit_convert_builds_every_model(zoo_build):
    manifest, run = zoo_build
    assert run.code == 0, run.out + run.err
    for name in ZOO:
        assert f"convert:{name}-FP32" in run.executed(), run.out


@pytest.mark.parametrize("precision", ["FP32", "FP16"])
@pytest.mark.parametrize("name", list(ZOO))
def test_doit_convert_verifies_against_the_source_model(zoo_build, name, precision):
    """verify.json: passed, against the archive's own model (the SavedModel itself, not a
    frozen copy), with the preprocessing the flags ask for."""
    manifest, _ = zoo_build
    folder = manifest.parent / "ir" / name / precision
    assert (folder / f"{name}.xml").is_file() and (folder / f"{name}.bin").is_file()
    report = json.loads((folder / "verify.json").read_text())
    assert report["passed"], report
    tolerance = FP32_TOLERANCE if precision == "FP32" else FP16_TOLERANCE
    assert report["max_rel_error"] <= tolerance, report
    written_by = ZOO[name].written_by
    assert report["source_kind"] == ("frozen" if written_by == "frozen" else "saved_model")
    print(f"{name} {precision}: max error {report['max_rel_error']:.2e} of the output's range")
    preprocessing, flags = report["inputs"][0]["preprocessing"], ZOO[name].flags
    if not flags:  # EfficientNet rescales 0..255 pixels itself
        assert preprocessing is None, preprocessing
        return
    assert preprocessing["reverse_input_channels"] == bool(flags.get("reverse_input_channels"))
    assert bool(preprocessing["mean_values"]) and \
        bool(preprocessing["scale_values"]) == ("scale_values" in flags), preprocessing
