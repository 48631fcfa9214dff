"""The verifier's reference runners: every kind of source model, built here from seeded weights,
run in its own framework and checked against values numpy computes."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import helper

from modelzoo.verify.errors import VerifierUnavailable
from modelzoo.verify.references import lowest_ir_version, open_reference
from modelzoo.verify.source import SourceModel, TensorInfo
from reference_models import (fp16_rounded, mlp_numpy, mlp_weights, sample_input,
                              write_checkpoint_mlp, write_cut_graph, write_frozen_mlp,
                              write_onnx_mlp, write_tf2_saved_model, write_v1_saved_model)

WEIGHTS = mlp_weights()
X = sample_input()
EXPECTED = mlp_numpy(X, WEIGHTS)
EXPECTED_FP16 = mlp_numpy(X, fp16_rounded(WEIGHTS))


def assert_fp16_moves_outputs(plain: np.ndarray, rounded: np.ndarray) -> None:
    """The fp16 run gives what numpy gives with rounded weights, which is a small but real
    move away from the plain run (fp16 keeps 11 significant bits)."""
    np.testing.assert_allclose(rounded, EXPECTED_FP16["y"], rtol=0, atol=2e-6)
    moved = np.abs(rounded - plain).max() / np.ptp(plain)
    assert 1e-5 < moved < 2e-3, moved


@pytest.fixture(scope="module")
def tf():
    from modelzoo.runtime import import_tensorflow

    return import_tensorflow()


# -- ONNX --------------------------------------------------------------------------------------
def test_onnx_ir14_model_runs_in_onnxruntime_lowered(tmp_path):
    path = write_onnx_mlp(tmp_path / "mlp.onnx", WEIGHTS, ir_version=14, opset=17)
    reference = open_reference(SourceModel.from_file(path))
    assert reference.runtime == "onnxruntime"
    assert reference.detail == "IR version 14 loaded as 8"
    assert reference.inputs == [TensorInfo("x", "float32", (None, 4))]
    assert reference.outputs == [TensorInfo("y", "float32", (None, 3))]
    result = reference.run({"x": X})
    assert list(result) == ["y"] and result["y"].dtype == np.float32
    np.testing.assert_allclose(result["y"], EXPECTED["y"], rtol=0, atol=2e-6)


def test_lowest_ir_version_covers_every_opset_import():
    def model(*opsets):
        graph = helper.make_graph([], "empty", [], [])
        imports = [helper.make_opsetid(domain, version) for domain, version in opsets]
        return helper.make_model(graph, opset_imports=imports)

    assert lowest_ir_version(model(("", 17))) == 8
    assert lowest_ir_version(model(("", 21))) == 10
    assert lowest_ir_version(model(("", 13), ("ai.onnx.ml", 5))) == 10
    assert lowest_ir_version(model(("", 11), ("com.example", 99))) == 6
    assert lowest_ir_version(model(("", 999))) is None


def test_onnx_opset_onnxruntime_does_not_support_runs_in_onnx_reference(tmp_path):
    path = write_onnx_mlp(tmp_path / "mlp27.onnx", WEIGHTS, ir_version=14, opset=27)
    reference = open_reference(SourceModel.from_file(path))
    assert reference.runtime == "onnx.reference"
    assert reference.version == onnx.__version__
    assert "refused" in reference.detail and "Opset 27" in reference.detail
    assert "onnxruntime_src" not in reference.detail
    np.testing.assert_allclose(reference.run({"x": X})["y"], EXPECTED["y"], rtol=0, atol=2e-6)


def test_onnx_op_onnxruntime_cannot_run_switches_to_onnx_reference(tmp_path):
    class SessionWithoutKernel:
        def run(self, names, feeds):
            raise RuntimeError("[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an "
                               "implementation for MatMul(17) node with name ''")

    path = write_onnx_mlp(tmp_path / "mlp.onnx", WEIGHTS)
    reference = open_reference(SourceModel.from_file(path))
    reference._session = SessionWithoutKernel()
    result = reference.run({"x": X})
    assert reference.runtime == "onnx.reference"
    assert reference.detail == ("onnxruntime cannot run it: Could not find an implementation "
                                "for MatMul(17) node with name ''; ran in onnx.reference")
    np.testing.assert_allclose(result["y"], EXPECTED["y"], rtol=0, atol=2e-6)


def test_onnx_output_may_name_inner_tensors(tmp_path):
    path = write_onnx_mlp(tmp_path / "mlp.onnx", WEIGHTS)
    reference = open_reference(SourceModel.from_file(path, outputs=("hidden", "y")))
    assert [(o.name, o.dtype, o.shape) for o in reference.outputs] == [
        ("hidden", "float32", (None, 8)), ("y", "float32", (None, 3))]
    result = reference.run({"x": X})
    np.testing.assert_allclose(result["hidden"], EXPECTED["hidden"], rtol=0, atol=2e-6)
    np.testing.assert_allclose(result["y"], EXPECTED["y"], rtol=0, atol=2e-6)
    with pytest.raises(VerifierUnavailable, match="--output nowhere names no tensor"):
        open_reference(SourceModel.from_file(path, outputs=("nowhere",)))


def test_onnx_external_data_is_read_from_the_model_folder(tmp_path, monkeypatch):
    model = onnx.load(str(write_onnx_mlp(tmp_path / "inline.onnx", WEIGHTS)))
    folder = tmp_path / "external"
    folder.mkdir()
    onnx.save(model, str(folder / "mlp.onnx"), save_as_external_data=True, location="w.bin",
              size_threshold=0)
    assert (folder / "w.bin").stat().st_size >= WEIGHTS["w1"].nbytes + WEIGHTS["w2"].nbytes
    monkeypatch.chdir(tmp_path)
    reference = open_reference(SourceModel.from_file(folder / "mlp.onnx"))
    np.testing.assert_allclose(reference.run({"x": X})["y"], EXPECTED["y"], rtol=0, atol=2e-6)


def test_onnx_fp16_weights_round_initializers_and_constants(tmp_path):
    reference = open_reference(SourceModel.from_file(write_onnx_mlp(tmp_path / "m.onnx", WEIGHTS)))
    plain, rounded = reference.run({"x": X})["y"], reference.with_fp16_weights().run({"x": X})["y"]
    assert_fp16_moves_outputs(plain, rounded)
    # b2 is a Constant node: had it been left alone, the result would be this instead
    unrounded_b2 = mlp_numpy(X, {**fp16_rounded(WEIGHTS), "b2": WEIGHTS["b2"]})["y"]
    assert np.abs(rounded - unrounded_b2).max() > 1e-5


def test_onnxruntime_missing_is_verifier_unavailable(tmp_path, monkeypatch):
    path = write_onnx_mlp(tmp_path / "mlp.onnx", WEIGHTS)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(VerifierUnavailable) as caught:
        open_reference(SourceModel.from_file(path))
    message = str(caught.value)
    assert "onnxruntime is not installed" in message and str(path) in message
    assert "verify extra" in message


def test_unreadable_onnx_file_is_verifier_unavailable(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07this is not a protobuf \xff\xff")
    with pytest.raises(VerifierUnavailable, match="broken.onnx: cannot be read as an ONNX model"):
        open_reference(SourceModel.from_file(path))


# -- frozen graphs and checkpoints -------------------------------------------------------------
@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_frozen_graph_runs_with_tensor_names(tf, tmp_path, text):
    path = write_frozen_mlp(tf, tmp_path / ("mlp.pbtxt" if text else "mlp.pb"), WEIGHTS, text)
    source = SourceModel.from_file(path)
    assert source.kind == ("text" if text else "frozen")
    reference = open_reference(source)
    assert reference.runtime == "tensorflow" and reference.version == tf.__version__
    assert ("text" if text else "binary") in reference.detail
    assert reference.inputs == [TensorInfo("x:0", "float32", (None, 4), frozenset({"x"}))]
    assert reference.outputs == [TensorInfo("y:0", "float32", (None, 3), frozenset({"y"}))]
    by_alias = reference.run({"x": X})["y:0"]
    np.testing.assert_allclose(by_alias, EXPECTED["y"], rtol=0, atol=2e-6)
    assert np.array_equal(reference.run({"x:0": X})["y:0"], by_alias)
    assert_fp16_moves_outputs(by_alias, reference.with_fp16_weights().run({"x": X})["y:0"])


def test_frozen_graph_outputs_by_node_or_tensor_name(tf, tmp_path):
    path = write_frozen_mlp(tf, tmp_path / "mlp.pb", WEIGHTS)
    reference = open_reference(SourceModel.from_file(path, outputs=("hidden", "y:0")))
    assert [o.name for o in reference.outputs] == ["hidden:0", "y:0"]
    result = reference.run({"x": X})
    np.testing.assert_allclose(result["hidden:0"], EXPECTED["hidden"], rtol=0, atol=2e-6)
    with pytest.raises(VerifierUnavailable, match="--output nowhere:0 names no tensor"):
        open_reference(SourceModel.from_file(path, outputs=("nowhere",)))


def test_input_naming_an_inner_node_feeds_it_instead_of_what_computes_it(tf, tmp_path):
    path = write_cut_graph(tf, tmp_path / "cut.pb", WEIGHTS)
    whole = open_reference(SourceModel.from_file(path))
    assert [(i.name, i.dtype) for i in whole.inputs] == [("text:0", "object")]
    with pytest.raises(VerifierUnavailable, match="cut.pb: TensorFlow failed to run.*StringTo"):
        whole.run({"text": np.full((5, 4), "1.5", dtype=object)})
    cut = open_reference(SourceModel.from_file(path, inputs=("features",)))
    assert cut.inputs == [TensorInfo("features:0", "float32", (None, 4), frozenset({"features"}))]
    np.testing.assert_allclose(cut.run({"features": X})["y:0"], EXPECTED["y"], rtol=0, atol=2e-6)


def test_placeholder_with_default_is_an_input_only_when_named(tf, tmp_path):
    with tf.Graph().as_default() as graph:
        given = tf.compat.v1.placeholder_with_default(np.ones((2, 2), np.float32), [None, 2],
                                                      name="given")
        tf.multiply(given, 3.0, name="tripled")
    path = tmp_path / "default.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    plain = open_reference(SourceModel.from_file(path))
    assert plain.inputs == [] and [o.name for o in plain.outputs] == ["tripled:0"]
    assert np.array_equal(plain.run({})["tripled:0"], np.full((2, 2), 3.0, np.float32))
    named = open_reference(SourceModel.from_file(path, inputs=("given",)))
    assert [i.name for i in named.inputs] == ["given:0"]
    assert np.array_equal(named.run({"given": np.full((1, 2), 2.0, np.float32)})["tripled:0"],
                          np.full((1, 2), 6.0, np.float32))


def test_checkpoint_runs_restored_and_leaves_save_machinery_out(tf, tmp_path):
    meta = write_checkpoint_mlp(tf, tmp_path, WEIGHTS)
    source = SourceModel.from_file(meta)
    assert source.kind == "checkpoint" and source.checkpoint == tmp_path / "model.ckpt"
    reference = open_reference(source)
    assert [o.name for o in reference.outputs] == ["y:0"]
    assert [i.name for i in reference.inputs] == ["x:0"]
    plain = reference.run({"x": X})["y:0"]
    np.testing.assert_allclose(plain, EXPECTED["y"], rtol=0, atol=2e-6)
    assert_fp16_moves_outputs(plain, reference.with_fp16_weights().run({"x": X})["y:0"])
    missing = SourceModel.from_file(meta, checkpoint=tmp_path / "absent.ckpt")
    with pytest.raises(VerifierUnavailable, match="cannot restore checkpoint .*absent.ckpt"):
        open_reference(missing)


# -- SavedModels -------------------------------------------------------------------------------
def test_tf2_saved_model_runs_its_signature(tf, tmp_path):
    folder = write_tf2_saved_model(tf, tmp_path / "tf2", WEIGHTS)
    reference = open_reference(SourceModel.from_file(folder))
    assert "TF2" in reference.detail and "serving_default" in reference.detail
    assert reference.inputs == [TensorInfo("features", "float32", (None, 4),
                                           frozenset({"features", "features:0"}))]
    assert [(o.name, o.shape) for o in reference.outputs] == [("hidden", (None, 8)),
                                                               ("y", (None, 3))]
    result = reference.run({"features:0": X})
    np.testing.assert_allclose(result["hidden"], EXPECTED["hidden"], rtol=0, atol=2e-6)
    np.testing.assert_allclose(result["y"], EXPECTED["y"], rtol=0, atol=2e-6)
    assert_fp16_moves_outputs(result["y"], reference.with_fp16_weights().run({"features": X})["y"])
    # the plain reference keeps its own weights after the rounded copy was made
    assert np.array_equal(reference.run({"features": X})["y"], result["y"])


def test_saved_model_with_custom_tags(tf, tmp_path):
    folder = write_v1_saved_model(tf, tmp_path / "v1", WEIGHTS, ["serve", "gpu"])
    reference = open_reference(SourceModel.from_file(folder, tags=("serve", "gpu"),
                                                     signature="predict"))
    assert [(i.name, i.aliases >= {"x:0", "x"}) for i in reference.inputs] == [("inputs", True)]
    assert [(o.name, o.aliases >= {"y:0", "y"}) for o in reference.outputs] == [("scores", True)]
    np.testing.assert_allclose(reference.run({"x:0": X})["scores"], EXPECTED["y"], rtol=0,
                               atol=2e-6)
    with pytest.raises(VerifierUnavailable, match=r"no meta graph is tagged gpu \(tag sets "
                                                  r"saved: gpu, serve\)"):
        open_reference(SourceModel.from_file(folder, tags=("gpu",), signature="predict"))
    # without tags, the only meta graph there is (as the converter takes it)
    only = open_reference(SourceModel.from_file(folder, signature="predict"))
    np.testing.assert_allclose(only.run({"x:0": X})["scores"], EXPECTED["y"], rtol=0, atol=2e-6)
    with pytest.raises(VerifierUnavailable, match="no signature 'serving_default'.*predict"):
        open_reference(SourceModel.from_file(folder, tags=("gpu", "serve")))


def test_tf1_saved_model_falls_back_to_a_v1_session(tf, tmp_path, monkeypatch):
    from modelzoo.verify._saved_model_reference import SavedModelReference

    def cannot_call(self, tf, feeds):
        raise tf.errors.FailedPreconditionError(None, None, "signature cannot be called")

    monkeypatch.setattr(SavedModelReference, "_call_function", cannot_call)
    folder = write_v1_saved_model(tf, tmp_path / "v1", WEIGHTS, ["serve"])
    reference = open_reference(SourceModel.from_file(folder, signature="predict"))
    plain = reference.run({"inputs": X})["scores"]
    assert "v1 session" in reference.detail and "cannot be called" in reference.detail
    assert reference.inputs == [TensorInfo("inputs", "float32", (None, 4), frozenset({"x:0", "x"}))]
    np.testing.assert_allclose(plain, EXPECTED["y"], rtol=0, atol=2e-6)
    assert_fp16_moves_outputs(plain, reference.with_fp16_weights().run({"x": X})["scores"])


def test_tensorflow_missing_is_verifier_unavailable(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(VerifierUnavailable, match="tensorflow is not installed.*verify extra"):
        open_reference(SourceModel.from_file(tmp_path / "model.pb"))


def test_importing_the_references_imports_no_runtime():
    code = ("import sys, modelzoo.verify.references, modelzoo.verify._tf_references, "
            "modelzoo.verify._saved_model_reference\n"
            "print(sorted(m for m in ('numpy', 'onnx', 'onnxruntime', 'openvino', 'tensorflow') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
