"""prepare: finding the model in an unpacked archive, and recording how the converter reads it
(SavedModels and checkpoints where they lie, never frozen through TensorFlow here)."""
from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from modelzoo.prepare import PrepareError, locate_model, prepare_model, read_prepared

DATA = Path(__file__).parent / "data"


def touch(tree: Path, *names: str) -> None:
    for name in names:
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_a_detection_zoo_archive_gives_its_frozen_graph_and_pipeline_config(tmp_path):
    with tarfile.open(DATA / "ssd_mobilenet_v2_tiny_voc.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    location = locate_model(tmp_path, "zoo, model 'ssd'")
    assert location.kind == "frozen"
    assert location.path == "ssd_mobilenet_v2_tiny_voc/frozen_inference_graph.pb"
    assert location.pipeline_config == "ssd_mobilenet_v2_tiny_voc/pipeline.config"
    assert location.framework == "tf"


def test_the_manifest_can_pick_another_form_of_the_same_model(tmp_path):
    touch(tmp_path, "m/frozen.pb", "m/saved_model/saved_model.pb", "m/model.ckpt.meta", "m/model.ckpt.index")
    assert locate_model(tmp_path, "x", model="m/saved_model").kind == "saved_model"
    checkpoint = locate_model(tmp_path, "x", model="m/model.ckpt.meta")
    assert checkpoint.kind == "checkpoint" and checkpoint.checkpoint == "m/model.ckpt"


@pytest.mark.parametrize("files,kind", [
    (["a/model.onnx", "a/readme.txt"], "onnx"),
    (["sm/saved_model.pb", "sm/variables/variables.index"], "saved_model"),
    (["ck/model.ckpt.meta", "ck/model.ckpt.index", "ck/checkpoint"], "checkpoint"),
    (["g/graph.pbtxt"], "text"),
])
def test_each_kind_is_found_alone(tmp_path, files, kind):
    touch(tmp_path, *files)
    assert locate_model(tmp_path, "x").kind == kind


def test_several_candidates_ask_for_the_model_key(tmp_path):
    touch(tmp_path, "a.onnx", "b.onnx")
    with pytest.raises(PrepareError, match=r"zoo.toml, model 'm'.*several onnx models \(a.onnx, b.onnx\).*model ="):
        locate_model(tmp_path, "zoo.toml, model 'm'")


def test_a_model_key_that_is_not_there_lists_what_is(tmp_path):
    touch(tmp_path, "net/model.onnx")
    with pytest.raises(PrepareError, match=r"'net/other.onnx' does not exist.*net/model.onnx"):
        locate_model(tmp_path, "x", model="net/other.onnx")


def test_a_meta_graph_without_its_checkpoint_is_an_error(tmp_path):
    touch(tmp_path, "m/model.ckpt.meta")
    with pytest.raises(PrepareError, match="without its checkpoint"):
        locate_model(tmp_path, "x")


def test_an_onnx_model_is_used_in_place_and_paths_stay_relative(tmp_path):
    tree, prepared = tmp_path / "tree", tmp_path / "prepared"
    touch(tree, "m/model.onnx")
    prepared.mkdir()
    prepare_model(tree, locate_model(tree, "x"), (), prepared)
    moved = tmp_path / "moved"
    tree.rename(moved)
    info = read_prepared(prepared, moved)
    assert info["input_model"] == str(moved / "m/model.onnx") and info["framework"] == "onnx"


def test_saved_model_tags_choose_the_meta_graph_to_convert(tmp_path):
    """A SavedModel with two meta graphs: "serve" computes y, "custom" computes 2y. prepare
    points the converter at the folder in the tree, and --saved_model_tags chooses."""
    import numpy as np
    import tensorflow as tf

    from converter import convert
    from modelzoo.runtime import run_openvino
    from reference_models import mlp_graph, mlp_numpy, mlp_weights

    v1 = tf.compat.v1
    tree = tmp_path / "tree"
    folder = tree / "sm"
    weights = mlp_weights()
    with tf.Graph().as_default() as graph:
        y = mlp_graph(tf, weights, variables=True)
        x = graph.get_tensor_by_name("x:0")
        doubled = tf.multiply(y, 2.0, name="doubled")
        signature = v1.saved_model.signature_def_utils.predict_signature_def
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(folder))
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={
                "serving_default": signature({"x": x}, {"y": y})})
            builder.add_meta_graph(["custom"], signature_def_map={
                "serving_default": signature({"x": x}, {"y": doubled})})
            builder.save()
    location = locate_model(tree, "x")
    staging = tmp_path / "prepared"
    staging.mkdir()
    prepare_model(tree, location, (), staging)
    assert sorted(p.name for p in staging.iterdir()) == ["prepared.json"], "nothing frozen"
    prepared = read_prepared(staging, tree)
    assert prepared["saved_model_dir"] == str(folder) and "input_model" not in prepared
    sample = np.random.default_rng(3).normal(size=(2, 4)).astype(np.float32)
    expected = mlp_numpy(sample, weights)["y"]
    for tags, factor in (((), 1.0), (("custom",), 2.0)):
        xml = convert(None, tmp_path / (",".join(tags) or "default"), "m",
                      saved_model_dir=prepared["saved_model_dir"],
                      saved_model_tags=",".join(tags) or None, input_shape="[2,4]")
        np.testing.assert_allclose(run_openvino(xml, {"x": sample})["y"], factor * expected,
                                   rtol=1e-5, atol=1e-5)


def test_files_inside_a_saved_model_folder_are_part_of_it(tmp_path):
    """TF >= 2.12 writes fingerprint.pb beside saved_model.pb: it is not a frozen graph."""
    touch(tmp_path, "export/saved_model.pb", "export/fingerprint.pb",
          "export/variables/variables.index", "export/assets/vocab.pb")
    location = locate_model(tmp_path, "x")
    assert (location.kind, location.path) == ("saved_model", "export")


def test_a_saved_model_archive_written_by_current_tensorflow_is_found_and_read_in_place(tmp_path):
    import tensorflow as tf

    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal((4, 3), seed=(1, 2)))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.matmul(x, self.w)}

    module = Scale()
    export = tmp_path / "build" / "saved_model"
    tf.saved_model.save(module, str(export), signatures=module.__call__)
    assert (export / "fingerprint.pb").is_file()
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(export, arcname="saved_model")
    tree = tmp_path / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    location = locate_model(tree, "x")
    assert (location.kind, location.path) == ("saved_model", "saved_model")
    staging = tmp_path / "staging"
    staging.mkdir()
    prepare_model(tree, location, (), staging)
    prepared = read_prepared(staging, tree)
    assert prepared["saved_model_dir"] == str(tree / "saved_model")
    assert sorted(p.name for p in staging.iterdir()) == ["prepared.json"], "nothing frozen"


def test_a_checkpoint_is_converted_where_it_lies(tmp_path):
    touch(tmp_path, "ck/model.ckpt.meta", "ck/model.ckpt.index", "ck/model.ckpt.data-00000-of-00001")
    staging = tmp_path / "prepared"
    staging.mkdir()
    prepare_model(tmp_path, locate_model(tmp_path, "x"), (), staging)
    prepared = read_prepared(staging, tmp_path)
    assert prepared["input_meta_graph"] == str(tmp_path / "ck/model.ckpt.meta")
    assert prepared["input_checkpoint"] == str(tmp_path / "ck/model.ckpt")
    assert sorted(p.name for p in staging.iterdir()) == ["prepared.json"], "nothing frozen"
