"""The local demo zoo: a manifest of >= 5 models in every source format, byte-reproducible."""
from __future__ import annotations

import hashlib
import io
import tarfile
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from modelzoo.localzoo import PREBUILT, build_local_zoo

TAKEN_AS_THEY_ARE = {name for name, *_ in PREBUILT}  # real exports from the test data
from modelzoo.manifest import load_manifest
from modelzoo.prepare import locate_model

TF_OPS = {"Conv2D", "DepthwiseConv2dNative", "BiasAdd", "FusedBatchNormV3", "Relu", "Relu6",
          "AddV2", "Mean", "MaxPool", "AvgPool", "Pad", "MatMul", "Softmax", "Reshape", "Squeeze",
          "ConcatV2", "Identity", "Const", "Placeholder"}
ONNX_OPS = {"Conv", "BatchNormalization", "Relu", "Clip", "Add", "Mul", "MaxPool", "AveragePool",
            "GlobalAveragePool", "Gemm", "MatMul", "Reshape", "Flatten", "Concat", "Softmax",
            "Dropout", "Identity", "Transpose"}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    return build_local_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="module")
def models(zoo) -> dict[str, dict]:
    return tomllib.loads(zoo.read_text())


@pytest.fixture(scope="module")
def unpacked(zoo, models, tmp_path_factory) -> Path:
    """Each archive unpacked into a folder of its own; where the manifest leaves `model` out,
    the prepare stage's own search finds it, and its path is noted in the model's table."""
    root = tmp_path_factory.mktemp("unpacked")
    for name, model in models.items():
        archive = zoo.parent / model["url"]
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                z.extractall(root / name)
        else:
            with tarfile.open(archive, "r:gz") as t:
                t.extractall(root / name, filter="data")
        location = locate_model(root / name, name, model.get("model"), model.get("framework"))
        model["located"] = f"{name}/{location.path}"
        model["kind"] = location.kind
    return root


def kind(model: dict) -> str:
    return {"saved_model": "savedmodel"}.get(model["kind"], model["kind"])


def test_manifest_lists_every_format(zoo, models, unpacked):
    assert len(models) >= 5
    assert {"onnx", "frozen", "savedmodel", "checkpoint"} <= {kind(m) for m in models.values()}
    suffixes = {Path(m["url"]).name.split(".", 1)[1] for m in models.values()}
    assert {"tar.gz", "zip", "tgz"} <= suffixes
    for model in models.values():
        assert model["precisions"] == ["FP32", "FP16"]
    loaded = load_manifest(zoo)  # the pipeline's own validation: keys, flags, checksums
    assert [m.name for m in loaded.models] == list(models)
    assert all(m.url.startswith("file://") for m in loaded.models)
    mobilenet = next(m for m in models.values() if kind(m) == "frozen")
    assert mobilenet["input_shape"] == [1, 96, 96, 3] and mobilenet["reverse_input_channels"]
    assert "mean_values" in mobilenet and "scale_values" in mobilenet


def test_archives_match_their_checksums(zoo, models):
    for model in models.values():
        data = (zoo.parent / model["url"]).read_bytes()
        assert len(data) == model["size"], model["name"]
        assert hashlib.sha256(data).hexdigest() == model["sha256"], model["name"]


def test_tar_members_carry_no_build_metadata(zoo, models):
    for name, model in models.items():
        if model["url"].endswith(".zip") or name in TAKEN_AS_THEY_ARE:
            continue
        data = (zoo.parent / model["url"]).read_bytes()
        assert data[4:8] == b"\0\0\0\0"  # gzip mtime
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = tar.getmembers()
        assert [m.name for m in members] == sorted(m.name for m in members)
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}


def test_rebuilding_gives_identical_bytes(zoo, tmp_path):
    """A second build, in a fresh folder and a fresh TensorFlow process, gives the same bytes."""
    again = build_local_zoo(tmp_path)
    assert again.read_bytes() == zoo.read_bytes()
    for archive in sorted((zoo.parent / "archives").iterdir()):
        assert (tmp_path / "archives" / archive.name).read_bytes() == archive.read_bytes(), archive.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archives", "models.toml"]


def test_onnx_models_use_classic_ops_and_run(models, unpacked):
    import onnx
    import onnxruntime as ort

    for model in (m for m in models.values() if kind(m) == "onnx"):
        path = unpacked / model["located"]
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
        assert {n.op_type for n in proto.graph.node} <= ONNX_OPS, model["name"]
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = session.get_inputs()[0]
        x = np.random.default_rng(0).uniform(-1, 1, feed.shape).astype(np.float32)
        (probabilities,) = session.run(None, {feed.name: x})
        np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-4)
        assert np.ptp(probabilities) > 1e-4, f"{model['name']} gives a flat output"


def test_tiny_cnn_has_the_requested_ops(models, unpacked):
    import onnx

    path = unpacked / models["tiny-cnn-onnx"]["located"]
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Conv", "BatchNormalization", "Relu", "MaxPool", "GlobalAveragePool", "Gemm",
            "Softmax", "Dropout", "Identity"} <= ops


def test_squeezenet_weights_are_random(models, unpacked):
    import onnx
    from onnx import numpy_helper

    path = unpacked / models["squeezenet-light-onnx"]["located"]
    graph = onnx.load(str(path)).graph
    assert "ConstantOfShape" not in {n.op_type for n in graph.node}
    weights = [numpy_helper.to_array(t) for t in graph.initializer]
    assert len(weights) == 52 and all(np.ptp(w) > 0 for w in weights)


def test_tf_models_load_with_classic_ops(models, unpacked):
    import tensorflow as tf

    by_kind = {kind(m): unpacked / m["located"] for name, m in models.items()
               if name not in TAKEN_AS_THEY_ARE}
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(by_kind["frozen"].read_bytes())
    ops = {n.op for n in graph_def.node}
    assert ops <= TF_OPS and {"FusedBatchNormV3", "DepthwiseConv2dNative", "Relu6"} <= ops

    loaded = tf.saved_model.load(str(by_kind["savedmodel"]))
    prob = loaded.signatures["serving_default"](tf.zeros([1, 32, 32, 3]))["prob"]
    assert prob.shape == (1, 10)

    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        saver = tf.compat.v1.train.import_meta_graph(str(by_kind["checkpoint"]))
        saver.restore(session, str(by_kind["checkpoint"].with_suffix("")))
        out = session.run("prob:0", {"input:0": np.ones([1, 28, 28, 1], np.float32)})
    assert out.shape == (1, 10) and np.ptp(out) > 0
