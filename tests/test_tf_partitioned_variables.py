"""Partitioned (sliced) variables of TF1 graphs, read without the TensorFlow fallback.

`tf.compat.v1.get_variable(..., partitioner=...)` makes one variable per part
(`emb/part_0`, ...); the Saver writes the whole variable as one bundle entry listing its
slices, plus one entry per slice under an OrderedCode key, and the restore op gives each part
its slice ("150 8 50,50:0,8"). The model reads a partitioned kernel through a ConcatV2 of
the parts and a partitioned embedding table through `tf.nn.embedding_lookup`'s
DynamicPartition / Gather per part / ParallelDynamicStitch, which the reader merges into one
Gather of a constant table. Checked against TensorFlow running the same graph, from a
checkpoint (`--input_meta_graph`/`--input_checkpoint`) and from a SavedModel written by
`tf.compat.v1.saved_model.Builder`, converted in an interpreter that cannot import
TensorFlow."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from converter.frontends.tf.checkpoint import TensorBundle, freeze_checkpoint_graph, slice_key
from modelzoo.runtime import run_openvino
from tf_support import convert_without_tensorflow, feeds_for

ROOT = Path(__file__).resolve().parents[1]
ROWS, WIDTH, FEATURES = 150, 8, 5  # 150 rows: slice starts above 63 take two key bytes
TOLERANCE = 1e-4

# (id, partitioner factory, resource variables, embedding_lookup partition strategy)
CASES = [
    ("fixed_3_ref_div", lambda v1: v1.fixed_size_partitioner(3), False, "div"),
    ("fixed_3_resource_mod", lambda v1: v1.fixed_size_partitioner(3), True, "mod"),
    ("min_max_ref_mod",
     lambda v1: v1.min_max_variable_partitioner(max_partitions=4, min_slice_size=1 << 10),
     False, "mod"),
    ("min_max_resource_div",
     lambda v1: v1.min_max_variable_partitioner(max_partitions=4, min_slice_size=1 << 10),
     True, "div"),
]




def feeds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    ids = np.array([[0, 49, 50, 51], [99, 100, 148, 149], [7, 70, 140, 3]], np.int64)
    return {"x": rng.uniform(-1, 1, (3, FEATURES)).astype(np.float32), "ids": ids}


def build_and_save(tf, folder: Path, partitioner, resource: bool, strategy: str) -> dict:
    """x @ kernel (partitioned along its columns) + the mean of the embeddings of ids (a
    table partitioned along its rows), as a checkpoint and as a TF1 SavedModel; TensorFlow's
    output, the partition variables' values and the paths."""
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        x = v1.placeholder(tf.float32, [None, FEATURES], name="x")
        ids = v1.placeholder(tf.int64, [None, 4], name="ids")
        kernel = v1.get_variable("dense/kernel", (FEATURES, WIDTH), use_resource=resource,
                                 initializer=v1.random_normal_initializer(seed=1),
                                 partitioner=v1.fixed_size_partitioner(2, axis=1))
        table = v1.get_variable("embedding/table", (ROWS, WIDTH), use_resource=resource,
                                initializer=v1.random_normal_initializer(seed=2),
                                partitioner=partitioner(v1))
        looked_up = v1.nn.embedding_lookup(table, ids, partition_strategy=strategy)
        y = tf.add(tf.matmul(x, kernel), tf.reduce_mean(looked_up, axis=1), name="y")
        session.run(v1.global_variables_initializer())
        prefix = v1.train.Saver().save(session, str(folder / "model.ckpt"))
        data = feeds()
        expected = session.run(y, {x: data["x"], ids: data["ids"]})
        parts = {v.op.name: session.run(v) for v in v1.global_variables()}
        builder = v1.saved_model.Builder(str(folder / "saved_model"))
        signature = v1.saved_model.predict_signature_def({"x": x, "ids": ids}, {"y": y})
        builder.add_meta_graph_and_variables(session, ["serve"],
                                             signature_def_map={"serving_default": signature})
        builder.save()
    return {"prefix": prefix, "meta": f"{prefix}.meta", "saved_model": folder / "saved_model",
            "expected": expected, "parts": parts, "table_parts": len(table)}


@pytest.fixture(scope="module")
def models(tf, tmp_path_factory):
    root = tmp_path_factory.mktemp("partitioned")
    built = {}
    for name, partitioner, resource, strategy in CASES:
        (root / name).mkdir()
        built[name] = build_and_save(tf, root / name, partitioner, resource, strategy)
    return built


@pytest.fixture(scope="module")
def converted(models, tmp_path_factory):
    """Every model converted from its checkpoint and from its SavedModel, in one interpreter
    that cannot import TensorFlow: (case, "checkpoint" or "saved_model") -> report."""
    out = tmp_path_factory.mktemp("partitioned_ir")
    jobs, keys = {}, {}
    for name, model in models.items():
        for kind, flags in [("checkpoint", {"input_meta_graph": model["meta"],
                                            "input_checkpoint": model["prefix"]}),
                            ("saved_model", {"saved_model_dir": str(model["saved_model"])})]:
            output = str(out / f"{name}_{kind}")
            jobs[output], keys[output] = flags, (name, kind)
    reports = convert_without_tensorflow(jobs)
    return {keys[output]: report for output, report in reports.items()}


@pytest.mark.parametrize("kind", ["checkpoint", "saved_model"])
@pytest.mark.parametrize("name", [case[0] for case in CASES])
def test_partitioned_model_converts_without_fallback(models, converted, name, kind):
    report = converted[name, kind]
    assert not report["xml"].startswith("failed"), report["xml"]
    assert not [line for line in report["log"] if "through TensorFlow" in line], report["log"]
    expected = models[name]["expected"]
    outputs = run_openvino(report["xml"], feeds_for(feeds()))
    actual = outputs["y"] if "y" in outputs else outputs["y:0"]
    assert actual.shape == expected.shape
    error = np.abs(actual - expected).max() / np.ptp(expected)
    assert error <= TOLERANCE, error
    xml = Path(report["xml"]).read_text()
    assert xml.count('type="Gather"') == 1  # the lookup's parts merged into one table


def test_bundle_assembles_partitioned_variables_as_tensorflow_reads_them(tf, models):
    """The whole variable from its slices, and each slice alone (a view of the data file,
    found by its OrderedCode key), equal what TensorFlow reads and what the parts held."""
    model = models["min_max_resource_div"]
    reader = tf.train.load_checkpoint(model["prefix"])
    bundle = TensorBundle(model["prefix"])
    assert sorted(bundle.keys()) == sorted(reader.get_variable_to_shape_map())
    for key in bundle.keys():
        np.testing.assert_array_equal(bundle.tensor(key), reader.get_tensor(key))
    parts = sorted(name for name in model["parts"] if name.startswith("embedding/table/part_"))
    assert len(parts) == model["table_parts"] == 4
    start = 0
    for part in parts:
        value = model["parts"][part]
        extents = [(start, len(value)), (0, WIDTH)]
        piece = bundle.tensor_slice("embedding/table", extents)
        np.testing.assert_array_equal(piece, value)
        start += len(value)
    assert start == ROWS


def test_slice_keys_are_tensorflows(models):
    """Our OrderedCode keys are the keys TensorFlow wrote: every slice entry is found."""
    bundle = TensorBundle(models["fixed_3_ref_div"]["prefix"])
    ours = {slice_key("embedding/table", [(0, 50), (0, WIDTH)]),
            slice_key("embedding/table", [(50, 50), (0, WIDTH)]),
            slice_key("embedding/table", [(100, 50), (0, WIDTH)]),
            slice_key("dense/kernel", [(0, FEATURES), (0, WIDTH // 2)]),
            slice_key("dense/kernel", [(0, FEATURES), (WIDTH // 2, WIDTH // 2)])}
    assert ours == set(bundle.slice_keys())


def test_frozen_graph_has_no_partition_left(models):
    """The frozen checkpoint graph reads no variable, partitions nothing and names the
    model's output alone (not the parts' unused reads)."""
    model = models["fixed_3_resource_mod"]
    graph_def, inputs, outputs = freeze_checkpoint_graph(model["meta"], model["prefix"])
    assert inputs == {"x": "x:0", "ids": "ids:0"} and outputs == {"y": "y:0"}
    needed, stack, nodes = set(), ["y"], {node.name: node for node in graph_def.node}
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(ref.lstrip("^").split(":")[0] for ref in nodes[name].input)
    ops = {nodes[name].op for name in needed}
    assert not ops & {"VarHandleOp", "VariableV2", "ReadVariableOp", "ResourceGather",
                      "DynamicPartition", "ParallelDynamicStitch"}, ops


def test_cli_converts_a_partitioned_checkpoint(models, tmp_path):
    """As a user would: `python -m converter --input_meta_graph ... --input_checkpoint ...`;
    no fallback announced, and the IR matches TensorFlow."""
    model = models["min_max_ref_mod"]
    done = subprocess.run([sys.executable, "-m", "converter", "--input_meta_graph", model["meta"],
                           "--input_checkpoint", model["prefix"], "--output_dir",
                           str(tmp_path / "ir"), "--model_name", "partitioned"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "through TensorFlow" not in done.stdout + done.stderr
    outputs = run_openvino(tmp_path / "ir" / "partitioned.xml", feeds_for(feeds()))
    actual = outputs["y"] if "y" in outputs else outputs["y:0"]
    error = np.abs(actual - model["expected"]).max() / np.ptp(model["expected"])
    assert error <= TOLERANCE, error
