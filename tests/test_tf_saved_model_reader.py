"""SavedModels read without TensorFlow: the protobuf classes, the variables bundle, function
inlining and freezing, each checked against TensorFlow's own reading of the same files."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from converter import convert
from converter.frontends.tf import saved_model as saved_model_reader
from converter.frontends.tf.checkpoint import TensorBundle
from converter.frontends.tf.functions import function_body, function_library, inline_calls
from converter.frontends.tf.proto import messages
from converter.frontends.tf.saved_model import UnsupportedSavedModel, read_saved_model
from modelzoo.runtime import run_openvino
from tf_support import feeds_for, random

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def module_model(tf, tmp_path_factory):
    """A tf.Module whose signature calls a nested tf.function returning two tensors, uses
    ops with several output arguments (FusedBatchNormV3, TopKV2, Split) and variables of
    several dtypes; returns (folder, the module)."""
    folder = tmp_path_factory.mktemp("module") / "saved"
    rng = np.random.default_rng(0)

    class Model(tf.Module):
        def __init__(self):
            self.w = tf.Variable(rng.standard_normal((4, 6)).astype(np.float32), name="w")
            self.b = tf.Variable(rng.standard_normal(6).astype(np.float32), name="b")
            self.scale = tf.Variable(rng.uniform(0.5, 2, 6).astype(np.float32))
            self.steps = tf.Variable(np.int64(7))
            self.half = tf.Variable(np.float16([1.5, -2.25]))
            self.flag = tf.Variable(True)

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32)])
        def inner(self, x):
            images = tf.reshape(x, [-1, 1, 2, 3])
            normed, _, _ = tf.compat.v1.nn.fused_batch_norm(
                images, self.scale[:3], self.b[:3], mean=self.b[3:], variance=self.scale[3:],
                is_training=False)
            left, right = tf.split(x, 2, axis=1)
            values, _ = tf.math.top_k(x, k=2)
            return tf.reshape(normed, [-1, 6]) + tf.concat([right, left], axis=1), values

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="features")])
        def serve(self, features):
            hidden = tf.nn.relu(tf.matmul(features, self.w) + self.b)
            mixed, top = self.inner(hidden)
            return {"mixed": mixed * self.scale, "top": top}

    model = Model()
    tf.saved_model.save(model, str(folder), signatures={"serving_default": model.serve})
    return folder, model


@pytest.fixture(scope="module")
def keras_model(tf, tmp_path_factory):
    """A small Keras CNN exported both ways Keras 3 offers: `model.export` and
    `tf.saved_model.save` (their variable handles are wired differently)."""
    keras = tf.keras
    keras.utils.set_random_seed(5)
    inputs = keras.Input((10, 10, 3), name="image")
    y = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.DepthwiseConv2D(3, activation="relu")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(y))
    for layer in model.layers:  # non-trivial moving statistics
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.linspace(-0.5, 0.5, 4).astype(np.float32))
            layer.moving_variance.assign(np.linspace(0.5, 2, 4).astype(np.float32))
    root = tmp_path_factory.mktemp("keras")
    model.export(str(root / "exported"), verbose=False)
    tf.saved_model.save(model, str(root / "saved"))
    return root, model


def test_our_messages_read_what_tensorflow_wrote(tf, module_model):
    """The runtime-built classes parse saved_model.pb as TensorFlow's own classes do."""
    from tensorflow.core.protobuf import saved_model_pb2

    folder, _ = module_model
    data = (folder / "saved_model.pb").read_bytes()
    theirs = saved_model_pb2.SavedModel.FromString(data).meta_graphs[0]
    ours = messages().SavedModel.FromString(data).meta_graphs[0]
    assert list(ours.meta_info_def.tags) == list(theirs.meta_info_def.tags) == ["serve"]
    assert {k: {n: i.name for n, i in v.outputs.items()} for k, v in ours.signature_def.items()} \
        == {k: {n: i.name for n, i in v.outputs.items()} for k, v in theirs.signature_def.items()}
    assert [n.name for n in ours.graph_def.node] == [n.name for n in theirs.graph_def.node]
    assert [(f.signature.name, [n.name for n in f.node_def], dict(f.ret))
            for f in ours.graph_def.library.function] == \
        [(f.signature.name, [n.name for n in f.node_def], dict(f.ret))
         for f in theirs.graph_def.library.function]
    assert {k: list(v.bound_inputs) for k, v in ours.object_graph_def.concrete_functions.items()} \
        == {k: list(v.bound_inputs) for k, v in theirs.object_graph_def.concrete_functions.items()}


def test_bundle_reads_every_tensor_as_tensorflow_does(tf, module_model, keras_model):
    for prefix in (module_model[0] / "variables" / "variables",
                   keras_model[0] / "saved" / "variables" / "variables"):
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = reader.get_variable_to_shape_map()
        bundle = TensorBundle(prefix)
        assert sorted(bundle.keys()) == sorted(shapes)
        for key in shapes:
            ours, theirs = bundle.tensor(key), reader.get_tensor(key)
            if isinstance(ours, list):  # the object graph, a string scalar
                assert ours == [theirs]
                continue
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, key
            np.testing.assert_array_equal(ours, theirs)
    module_bundle = TensorBundle(module_model[0] / "variables" / "variables")
    dtypes = {str(module_bundle.tensor(k).dtype) for k in module_bundle.keys() if "OBJECT" not in k}
    assert dtypes == {"float32", "int64", "float16", "bool"}


def test_function_bodies_read_node_and_port(module_model):
    """`node:output_arg:index` becomes `node:port` (TopKV2's indices are port 1, a nested
    call's second result port 1); arguments become Placeholders with their shapes."""
    folder, _ = module_model
    meta = messages().SavedModel.FromString((folder / "saved_model.pb").read_bytes()).meta_graphs[0]
    library = function_library(meta.graph_def)
    inner = next(f for name, f in library.items() if "inner" in name)
    body = function_body(inner, library)
    assert body.inputs[0] == "x" and len(body.inputs) == 3  # x and two captured variables
    nodes = {node.name: node for node in body.nodes}
    assert nodes["x"].op == "Placeholder" and [d.size for d in nodes["x"].attr["shape"].shape.dim] == [-1, 6]
    refs = [ref for node in body.nodes for ref in node.input]
    assert not [ref for ref in refs if ref.count(":") > 1]
    assert all(name.split(":")[0] in nodes for name in body.outputs)
    serve = next(f for name, f in library.items() if name.startswith("__inference_serve"))
    serve_body = function_body(serve, library)
    readers = {ref for node in serve_body.nodes for ref in node.input
               if ref.startswith("StatefulPartitionedCall")}
    assert readers == {"StatefulPartitionedCall", "StatefulPartitionedCall:1"}


def test_inlining_leaves_no_call(module_model):
    folder, _ = module_model
    meta = messages().SavedModel.FromString((folder / "saved_model.pb").read_bytes()).meta_graphs[0]
    graph_def = meta.graph_def
    calls = inline_calls(graph_def)
    assert calls >= 3  # the signature wrapper, the serving function, the nested call
    assert not {n.op for n in graph_def.node} & {"PartitionedCall", "StatefulPartitionedCall"}
    names = {n.name for n in graph_def.node}
    assert all(ref.lstrip("^").split(":")[0] in names for n in graph_def.node for ref in n.input)


def test_module_converts_without_tensorflow_and_matches(tf, module_model, tmp_path):
    folder, model = module_model
    features = random((3, 4), 1)
    expected = {k: v.numpy() for k, v in model.serve(features).items()}
    xml = _convert_in_subprocess(folder, tmp_path)
    outputs = run_openvino(xml, feeds_for({"features": features}))
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["exported", "saved"])
def test_keras_saved_models_match(tf, keras_model, kind, tmp_path):
    root, model = keras_model
    image = np.random.default_rng(2).uniform(-1, 1, (2, 10, 10, 3)).astype(np.float32)
    expected = model(image, training=False).numpy()
    frozen = read_saved_model(root / kind)
    (input_tensor,) = frozen.inputs.values()
    (output_name,) = frozen.outputs
    assert not {n.op for n in frozen.graph_def.node} & {"ReadVariableOp", "StatefulPartitionedCall"}
    xml = convert(output_dir=tmp_path, model_name="m", saved_model_dir=str(root / kind))
    outputs = run_openvino(xml, feeds_for({input_tensor.split(":")[0]: image}))
    np.testing.assert_allclose(outputs[output_name], expected, rtol=1e-5, atol=1e-6)


def test_v1_saved_model_with_tags(tf, tmp_path):
    """A TF1 builder's SavedModel: variables found through its restore ops, the meta graph
    by its tags."""
    from reference_models import write_v1_saved_model

    weights = {"w1": random((4, 5), 1), "b1": random((5,), 2), "w2": random((5, 3), 3),
               "b2": random((3,), 4)}
    folder = write_v1_saved_model(tf, tmp_path / "v1", weights, ["serve", "gpu"])
    frozen = read_saved_model(folder, tags=["serve", "gpu"], signature="predict")
    assert frozen.inputs == {"inputs": "x:0"} and frozen.outputs == {"scores": "y:0"}
    x = random((2, 4), 5)
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        tf.compat.v1.saved_model.loader.load(session, ["serve", "gpu"], str(folder))
        expected = session.run("y:0", {"x:0": x})
    assert read_saved_model(folder, tags=["serve", "gpu"]).outputs == frozen.outputs  # the only one
    xml = convert(output_dir=tmp_path / "ir", model_name="m", saved_model_dir=str(folder),
                  saved_model_tags=["serve", "gpu"])
    np.testing.assert_allclose(run_openvino(xml, feeds_for({"x": x}))["y"], expected,
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(Exception, match="tag"):
        read_saved_model(folder, tags=["train"])


def test_unreadable_state_falls_back_to_tensorflow_with_a_warning(tf, keras_model, tmp_path,
                                                                   monkeypatch, caplog):
    root, model = keras_model

    def refuse(*args, **kwargs):
        raise UnsupportedSavedModel("test: a lookup table")

    monkeypatch.setattr(saved_model_reader, "read_saved_model", refuse)
    image = np.random.default_rng(3).uniform(-1, 1, (1, 10, 10, 3)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        xml = convert(output_dir=tmp_path, model_name="m", saved_model_dir=str(root / "saved"))
    assert any("freezing it through TensorFlow" in r.getMessage() for r in caplog.records)
    outputs = run_openvino(xml, feeds_for({"inputs": image}))
    (value,) = {id(v): v for k, v in outputs.items()}.values()
    np.testing.assert_allclose(value, model(image, training=False).numpy(), rtol=1e-5, atol=1e-6)


def test_a_variable_assigned_in_a_loop_is_reported_unsupported(tf, tmp_path):
    """A variable only read in a loop body is frozen (tests/test_tf_saved_model_rnn.py); one
    the body assigns is state a frozen graph cannot hold."""
    class Loop(tf.Module):
        def __init__(self):
            self.v = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32)])
        def serve(self, x):
            def body(i, y):
                self.v.assign_add(1.0)
                return i + 1, y * self.v

            return tf.while_loop(lambda i, y: i < 3, body, (0, x))[1]

    module = Loop()
    tf.saved_model.save(module, str(tmp_path / "loop"), signatures=module.serve)
    with pytest.raises(UnsupportedSavedModel, match="state the reader cannot freeze"):
        read_saved_model(tmp_path / "loop")


def _convert_in_subprocess(folder: Path, tmp_path: Path) -> Path:
    """Convert in a fresh interpreter and report whether TensorFlow got imported."""
    script = ("import json, sys\nfrom converter import convert\n"
              f"xml = convert(output_dir={str(tmp_path)!r}, model_name='m', "
              f"saved_model_dir={str(folder)!r})\n"
              "print(json.dumps({'xml': str(xml), 'tf': 'tensorflow' in sys.modules}))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["tf"] is False
    return Path(report["xml"])
