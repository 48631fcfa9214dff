"""Helpers for the TensorFlow frontend tests: build a tf.compat.v1 graph, convert its frozen
GraphDef, run both and compare. TensorFlow is imported by the callers' module fixtures."""
from __future__ import annotations

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
