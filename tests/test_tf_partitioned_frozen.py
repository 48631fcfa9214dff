"""Frozen TF1 graphs that look up a partitioned embedding table.

`tf.compat.v1.get_variable(..., partitioner=fixed_size_partitioner(n))` splits a table into n
variables; `tf.nn.embedding_lookup` over them routes every id to a part and a row
(DynamicPartition), gathers from each part and puts the rows back in order
(ParallelDynamicStitch). Once frozen (`convert_variables_to_constants`) the parts are
constants, and the converter merges each lookup into one Gather of the whole table, as the
SavedModel and checkpoint readers do. Checked against TensorFlow running the same frozen graph,
for both partition strategies, reference and resource variables, int32 and int64 ids."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from converter import convert
from converter.errors import UserInputError
from modelzoo.runtime import run_openvino, run_tf_graph
from tf_support import feeds_for

ROWS, WIDTH = 150, 8
TOLERANCE = 1e-4

# (id, parts, strategy, resource variables, ids type); 150 rows in 4 parts are uneven
CASES = [
    ("3_parts_mod_ref", 3, "mod", False, "int64"),
    ("3_parts_div_ref", 3, "div", False, "int64"),
    ("4_parts_mod_resource", 4, "mod", True, "int32"),
    ("4_parts_div_resource", 4, "div", True, "int64"),
]


def ids() -> np.ndarray:
    """Ids at both ends of the table and around the parts' boundaries."""
    return np.array([[0, 37, 38, 49, 50], [75, 76, 99, 100, 113], [148, 149, 1, 2, 3]])


def freeze_lookup(tf, folder: Path, parts: int, strategy: str, resource: bool,
                  ids_type: str) -> tuple[Path, str]:
    """A frozen graph: the sum of the embeddings of `ids` (a table in `parts` variables),
    scaled by an input `w`; (its .pb, its output tensor name)."""
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        ids_input = v1.placeholder(getattr(tf, ids_type), [None, 5], name="ids")
        w = v1.placeholder(tf.float32, [None, 1], name="w")
        table = v1.get_variable("embedding/table", (ROWS, WIDTH), use_resource=resource,
                                initializer=v1.random_normal_initializer(seed=2),
                                partitioner=v1.fixed_size_partitioner(parts))
        assert len(table) == parts
        looked_up = v1.nn.embedding_lookup(table, ids_input, partition_strategy=strategy)
        y = tf.multiply(tf.reduce_sum(looked_up, axis=1), w, name="y")
        session.run(v1.global_variables_initializer())
        frozen = v1.graph_util.convert_variables_to_constants(session,
                                                              session.graph.as_graph_def(), ["y"])
    ops = Counter(node.op for node in frozen.node)
    assert ops["DynamicPartition"] and ops["ParallelDynamicStitch"] == 1, ops
    pb = folder / "model.pb"
    pb.write_bytes(frozen.SerializeToString())
    return pb, "y:0"


def ir_ops(xml: Path) -> Counter:
    return Counter(re.findall(r'<layer id="\d+" name="[^"]*" type="(\w+)"', xml.read_text()))


@pytest.mark.parametrize("parts, strategy, resource, ids_type", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_frozen_partitioned_lookup_matches_tensorflow(tf, tmp_path, parts, strategy, resource,
                                                      ids_type):
    pb, output = freeze_lookup(tf, tmp_path, parts, strategy, resource, ids_type)
    xml = convert(pb, tmp_path / "ir", "model")
    feeds = {"ids": ids().astype(ids_type),
             "w": np.array([[1.0], [-2.0], [0.5]], np.float32)}
    expected = run_tf_graph(pb, {f"{k}:0": v for k, v in feeds.items()}, [output])[output]
    actual = run_openvino(xml, feeds_for(feeds))[output]
    assert actual.shape == expected.shape == (3, WIDTH)
    assert np.abs(actual - expected).max() / np.ptp(expected) <= TOLERANCE
    ops = ir_ops(xml)
    assert ops["Gather"] == 1, ops  # one lookup into the whole table


def test_routing_the_reader_cannot_evaluate_is_named(tf, tmp_path):
    """A lookup whose ids are routed by an op the merge does not evaluate fails naming the
    file, the lookup and the op, and saying which routings convert."""
    pb, _ = freeze_lookup(tf, tmp_path, 3, "mod", False, "int64")
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb.read_bytes())
    (mod,) = [node for node in graph_def.node if node.op == "FloorMod"]
    mod.op = "TruncateMod"  # the same for the non-negative ids, but not evaluated by the merge
    pb.write_bytes(graph_def.SerializeToString())
    with pytest.raises(UserInputError) as error:
        convert(pb, tmp_path / "ir", "model")
    message = str(error.value)
    assert str(pb) in message and "TruncateMod" in message, message
    assert "embedding_lookup" in message and "'mod' and 'div'" in message, message
