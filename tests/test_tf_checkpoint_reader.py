"""TF1 checkpoints (model.ckpt.index/.data-* with the .meta graph) read without TensorFlow,
checked against TensorFlow restoring the same files."""
from __future__ import annotations

import numpy as np
import pytest

from converter import convert
from converter.frontends.tf.checkpoint import (TensorBundle, checkpoint_prefix,
                                               freeze_checkpoint_graph, read_table,
                                               snappy_decompress)
from modelzoo.runtime import run_openvino
from tf_support import feeds_for, random


def write_checkpoint(tf, folder, resource: bool, saver_names: bool):
    """x -> tanh(x @ w + b) -> * scale, variables of `resource` kind; with `saver_names` the
    Saver stores them under other keys than their node names. Returns (meta, prefix, y)."""
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        x = v1.placeholder(tf.float32, [None, 4], name="x")
        w = v1.get_variable("dense/w", initializer=random((4, 3), 5), use_resource=resource)
        b = v1.get_variable("dense/b", initializer=random((3,), 6), use_resource=resource)
        scale = v1.get_variable("scale", initializer=np.float32([0.5, 2, -1]),
                                use_resource=resource)
        y = tf.multiply(tf.nn.tanh(tf.matmul(x, w) + b), scale, name="y")
        session.run(v1.global_variables_initializer())
        names = {"renamed/weights": w, "renamed/bias": b, "other": scale} if saver_names else None
        prefix = v1.train.Saver(names).save(session, str(folder / "model.ckpt"))
        feeds = random((2, 4), 7)
        expected = session.run(y, {x: feeds})
    return folder / "model.ckpt.meta", prefix, feeds, expected


@pytest.mark.parametrize("resource", [False, True], ids=["ref_variables", "resource_variables"])
@pytest.mark.parametrize("saver_names", [False, True], ids=["node_names", "saver_names"])
def test_checkpoint_converts_and_matches(tf, tmp_path, resource, saver_names):
    meta, prefix, feeds, expected = write_checkpoint(tf, tmp_path, resource, saver_names)
    graph_def, inputs, outputs = freeze_checkpoint_graph(meta, prefix)
    assert inputs == {"x": "x:0"} and outputs == {"y": "y:0"}
    variable_ops = {"VariableV2", "VarHandleOp", "ReadVariableOp"}
    needed = _needed_ops(graph_def, "y")
    assert not needed & variable_ops and "Const" in needed
    xml = convert(None, tmp_path / "ir", "ckpt", input_meta_graph=str(meta),
                  input_checkpoint=prefix)
    np.testing.assert_allclose(run_openvino(xml, feeds_for({"x": feeds}))["y"], expected,
                               rtol=1e-5, atol=1e-6)


def test_bundle_matches_tensorflow_reader(tf, tmp_path):
    _, prefix, _, _ = write_checkpoint(tf, tmp_path, resource=False, saver_names=True)
    reader = tf.train.load_checkpoint(prefix)
    bundle = TensorBundle(prefix)
    assert sorted(bundle.keys()) == sorted(reader.get_variable_to_shape_map())
    for key in bundle.keys():
        np.testing.assert_array_equal(bundle.tensor(key), reader.get_tensor(key))
    assert checkpoint_prefix(f"{prefix}.index") == checkpoint_prefix(tmp_path) == prefix


def test_many_variables_and_a_missing_one(tf, tmp_path):
    """Enough similar keys for the index to span several blocks; a variable the checkpoint
    lacks is named in the error."""
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        x = v1.placeholder(tf.float32, [3], name="x")
        total = x
        for i in range(300):
            total = total + v1.get_variable(f"block_{i:03d}/bias", initializer=np.full(3, i, np.float32))
        tf.identity(total, name="y")
        session.run(v1.global_variables_initializer())
        prefix = v1.train.Saver().save(session, str(tmp_path / "model.ckpt"))
    assert len(read_table(f"{prefix}.index")) == 301  # 300 entries and the header
    xml = convert(None, tmp_path / "ir", "ckpt", input_meta_graph=f"{prefix}.meta",
                  input_checkpoint=prefix)
    np.testing.assert_allclose(run_openvino(xml, feeds_for({"x": np.ones(3, np.float32)}))["y"],
                               np.full(3, 1 + sum(range(300)), np.float32))


def test_snappy_blocks():
    """Literals and both kinds of back-reference, overlapping copies included."""
    literal = bytes([6]) + bytes([5 << 2]) + b"abcdef"
    assert snappy_decompress(literal) == b"abcdef"
    # "ab" then copy-1 of length 4 from offset 2 ("abab"), then copy-2 of length 3 offset 6
    data = bytes([9, 1 << 2]) + b"ab" + bytes([((4 - 4) << 2) | 1, 2]) + bytes([(2 << 2) | 2, 6, 0])
    assert snappy_decompress(data) == b"ab" + b"abab" + b"aba"


def _needed_ops(graph_def, output: str) -> set[str]:
    nodes = {node.name: node for node in graph_def.node}
    seen, stack = set(), [output]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(ref.split(":")[0] for ref in nodes[name].input if not ref.startswith("^"))
    return {nodes[name].op for name in seen}
