"""`doit convert` of a SavedModel archive (as TensorFlow >= 2.12 writes it, `fingerprint.pb`
beside `saved_model.pb`) and of a TF1 checkpoint archive (.meta, .index, .data): prepare records
where the model lies in the unpacked tree and the converter reads it there with our own readers,
so neither prepare nor convert imports TensorFlow; only verification runs the source model in
TensorFlow, the oracle, and the IR passes it with the outputs named as the source names them."""
from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from doit_runner import run_doit

pytestmark = pytest.mark.slow

IMAGE = (1, 16, 16, 3)
MODELS = {"sm-export": "saved_model", "tf1-checkpoint": "checkpoint"}


def _weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"kernel": rng.normal(0, 0.4, (3, 3, 3, 8)).astype(np.float32),
            "bias": rng.normal(0, 0.1, (8,)).astype(np.float32),
            "dense": rng.normal(0, 0.5, (8, 5)).astype(np.float32)}


def _classifier(tf, image, variables: dict):
    """conv 3x3 -> relu -> global mean -> dense -> softmax, on the given weights."""
    hidden = tf.nn.relu(tf.nn.conv2d(image, variables["kernel"], 1, "SAME") + variables["bias"])
    return tf.nn.softmax(tf.matmul(tf.reduce_mean(hidden, axis=[1, 2]), variables["dense"]), name="prob")


def write_saved_model(tf, folder: Path) -> None:
    """A TF2 SavedModel whose signature returns {"scores": ...}, with its variables."""
    class Classifier(tf.Module):
        def __init__(self):
            super().__init__()
            self.weights = {name: tf.Variable(value, name=name) for name, value in _weights(1).items()}

        @tf.function(input_signature=[tf.TensorSpec(IMAGE, tf.float32, name="image")])
        def serve(self, image):
            return {"scores": _classifier(tf, image, self.weights)}

    module = Classifier()
    tf.saved_model.save(module, str(folder), signatures=module.serve)


def write_checkpoint(tf, folder: Path) -> None:
    """A TF1 graph with variables, saved by a Saver: model.ckpt.{meta,index,data-*}."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        image = v1.placeholder(tf.float32, IMAGE, name="x")
        variables = {name: v1.get_variable(name, initializer=value) for name, value in _weights(2).items()}
        _classifier(tf, image, variables)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            v1.train.Saver().save(session, str(folder / "model.ckpt"))


def pack(folder: Path, archive: Path) -> str:
    """`folder` as a .tar.gz named `archive`; its sha256."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """A manifest listing the two archives, FP32 only."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("readers")
    sources = root / "sources"
    saved_model = sources / "export"
    write_saved_model(tf, saved_model)
    assert (saved_model / "fingerprint.pb").is_file(), "TensorFlow >= 2.12 writes fingerprint.pb"
    checkpoint = sources / "ckpt"
    checkpoint.mkdir()
    write_checkpoint(tf, checkpoint)
    tables = []
    for name, folder in zip(MODELS, (saved_model, checkpoint)):
        sha256 = pack(folder, root / f"{name}.tar.gz")
        tables.append(f'[{name}]\nurl = "{name}.tar.gz"\nsha256 = "{sha256}"\n')
    manifest = root / "models.toml"
    manifest.write_text('[defaults]\nprecisions = ["FP32"]\n\n' + "\n".join(tables))
    return manifest


@pytest.fixture(scope="module")
def converted(zoo):
    """Each model converted alone (`convert:NAME-FP32`: download, unpack, prepare, convert;
    no verification), in the doit process itself."""
    return {name: run_doit(f"convert:{name}-FP32", manifest=zoo) for name in MODELS}


@pytest.fixture(scope="module")
def verified(zoo, converted):
    """Then the whole build, verification included."""
    return run_doit("convert", manifest=zoo)


@pytest.mark.parametrize("name", MODELS)
def test_prepare_and_convert_read_the_model_without_tensorflow(zoo, converted, name):
    run = converted[name]
    assert run.code == 0, run.out + run.err
    assert {f"prepare:{name}", f"convert:{name}-FP32"} <= run.executed(), run.out
    assert "tensorflow" not in run.heavy, f"prepare or convert imported TensorFlow ({run.heavy})"
    assert "through TensorFlow" not in run.err, run.err
    assert (zoo.parent / "ir" / name / "FP32" / f"{name}.xml").is_file()


def test_prepare_freezes_nothing(zoo, converted):
    """The prepared entries hold their description alone: the models are read in place."""
    prepared = [json.loads(p.read_text()) for p in (zoo.parent / "cache" / "prepared").rglob("prepared.json")]
    assert sorted(info["location"]["kind"] for info in prepared) == sorted(MODELS.values())
    assert not list((zoo.parent / "cache" / "prepared").rglob("*.pb"))


@pytest.mark.parametrize("name", MODELS)
def test_the_ir_verifies_against_tensorflow_running_the_source(zoo, verified, name):
    assert verified.code == 0, verified.out + verified.err
    assert f"convert:{name}-FP32" not in verified.executed(), "the IR is the one converted before"
    report = json.loads((zoo.parent / "ir" / name / "FP32" / "verify.json").read_text())
    assert report["passed"], report
    assert report["source_kind"] == MODELS[name], "the original is the reference"
    [output] = report["outputs"]
    assert output["name"] == ("scores" if name == "sm-export" else "prob:0")
    assert output["passed"] and output["shape"] == [1, 5]
