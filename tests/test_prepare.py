"""prepare: finding the model in an unpacked archive, and freezing what needs it."""
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


def test_saved_model_tags_choose_the_meta_graph_to_freeze(tmp_path):
    """A SavedModel with two meta graphs: "serve" computes y, "custom" computes 2y. prepare
    freezes the one --saved_model_tags names."""
    import tensorflow as tf

    from reference_models import mlp_graph, mlp_weights

    v1 = tf.compat.v1
    folder = tmp_path / "tree" / "sm"
    with tf.Graph().as_default() as graph:
        y = mlp_graph(tf, mlp_weights(), variables=True)
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
    location = locate_model(tmp_path / "tree", "x")
    frozen = {}
    for tags in ((), ("custom",)):
        staging = tmp_path / ("-".join(tags) or "default")
        staging.mkdir()
        info = prepare_model(tmp_path / "tree", location, (), staging, tags=tags)
        frozen[tags] = (staging / "frozen.pb").read_bytes()
        assert list(info["outputs"]) == ["y"]
    assert b"doubled" in frozen[("custom",)] and b"doubled" not in frozen[()]


def test_files_inside_a_saved_model_folder_are_part_of_it(tmp_path):
    """TF >= 2.12 writes fingerprint.pb beside saved_model.pb: it is not a frozen graph."""
    touch(tmp_path, "export/saved_model.pb", "export/fingerprint.pb",
          "export/variables/variables.index", "export/assets/vocab.pb")
    location = locate_model(tmp_path, "x")
    assert (location.kind, location.path) == ("saved_model", "export")


def test_a_saved_model_archive_written_by_current_tensorflow_is_found_and_frozen(tmp_path):
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
    info = prepare_model(tree, location, (), staging)
    assert list(info["outputs"]) == ["y"] and (staging / "frozen.pb").stat().st_size > 0
