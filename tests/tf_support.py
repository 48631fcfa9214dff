"""Helpers for the TensorFlow frontend tests: build a tf.compat.v1 graph, convert its frozen
GraphDef, run both and compare. TensorFlow is imported by the callers' module fixtures."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from converter import convert
from modelzoo.runtime import run_openvino, run_tf_graph


def graph_def_of(tf, build: Callable) -> tuple[bytes, list[str]]:
    """Serialize the graph `build(tf)` makes; returns it with its output tensor names."""
    with tf.Graph().as_default() as graph:
        outputs = build(tf)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return graph.as_graph_def().SerializeToString(), [t.name for t in outputs]


def feeds_for(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Feeds under both names OpenVINO may report for an input (`x` and `x:0`)."""
    both = {}
    for name, value in feeds.items():
        both[name] = value
        both[f"{name}:0"] = value
    return both


def compare(tmp_path: Path, pb: Path, feeds: dict[str, np.ndarray], outputs: list[str],
            atol: float = 1e-5, **flags) -> Path:
    """Convert `pb`, run the IR and TensorFlow on `feeds`, assert the outputs agree."""
    xml = convert(pb, tmp_path / "ir", "model", **flags)
    expected = run_tf_graph(pb, {f"{k}:0": v for k, v in feeds.items()}, outputs)
    actual = run_openvino(xml, feeds_for(feeds))
    for name in outputs:
        assert name in actual, f"IR lacks output {name}: {sorted(actual)}"
        got, want = actual[name], np.asarray(expected[name])
        assert got.shape == want.shape, (name, got.shape, want.shape)
        assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol)
    return xml


def check_graph(tf, tmp_path: Path, build: Callable, feeds: dict[str, np.ndarray],
                atol: float = 1e-5, **flags) -> Path:
    data, outputs = graph_def_of(tf, build)
    pb = tmp_path / "model.pb"
    pb.write_bytes(data)
    return compare(tmp_path, pb, feeds, outputs, atol=atol, **flags)


def random(shape, seed: int = 0, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def placeholder(tf, shape, name: str = "x", dtype=None):
    """A TF1 placeholder (float32 unless `dtype`), in the graph being built."""
    return tf.compat.v1.placeholder(dtype or tf.float32, shape, name=name)


def const(tf, shape, seed: int = 1):
    """A seeded random float32 constant of `shape`."""
    return tf.constant(random(shape, seed))


@contextlib.contextmanager
def v1_control_flow():
    """Build TF1 control flow (as graphs of 2016-2019 hold it), then restore the setting."""
    from tensorflow.python.ops import control_flow_util

    saved = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = False
    try:
        yield
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = saved


PROJECT = Path(__file__).resolve().parents[1]
# Run in a fresh interpreter where TensorFlow cannot be imported (so a fallback to it fails the
# conversion); convert each job (output folder -> converter flags), report the IR or the
# failure, and the log.
_CONVERT_WITHOUT_TENSORFLOW = """
import importlib.abc, json, logging, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("tensorflow is blocked in this test")
        return None

sys.meta_path.insert(0, NoTensorFlow())
records = []
handler = logging.Handler()
handler.emit = lambda record: records.append(record.getMessage())
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.INFO)
from converter import convert
report = {}
for output, flags in json.loads(sys.argv[1]).items():
    del records[:]
    try:
        xml = str(convert(output_dir=output, model_name="m", **flags))
    except Exception as exc:
        xml = "failed: " + str(exc)
    report[output] = {"xml": xml, "log": list(records)}
print(json.dumps(report))
"""


def convert_without_tensorflow(jobs: dict[str, dict]) -> dict[str, dict]:
    """Convert every job (output folder -> converter flags) in one interpreter that cannot
    import TensorFlow; per output folder: {"xml": the IR, or "failed: why", "log": lines}."""
    result = subprocess.run([sys.executable, "-c", _CONVERT_WITHOUT_TENSORFLOW, json.dumps(jobs)],
                            cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
