"""Building small graphs by hand and running them in OpenVINO, for pass and writer tests."""
from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import numpy as np

from converter.graph import Graph
from converter.ir.writer import write_ir
from modelzoo.runtime import run_openvino


def run_graph(graph: Graph, folder: Path, feeds: dict[str, np.ndarray], name: str = "model") -> dict[str, np.ndarray]:
    """Write `graph` as IR under `folder` and run it in OpenVINO (CPU, f32)."""
    xml = write_ir(graph, Path(folder) / f"{name}.xml")[0]
    return run_openvino(xml, feeds)


def op_counts(graph: Graph) -> Counter:
    return Counter(node.op for node in graph.nodes())


def snapshot(graph: Graph) -> Graph:
    """An independent copy, to compare a graph before and after a pass."""
    return copy.deepcopy(graph)


def rng_input(shape, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def conv_attrs(pads=(1, 1)) -> dict:
    return {"strides": [1, 1], "dilations": [1, 1], "pads_begin": list(pads), "pads_end": list(pads),
            "auto_pad": "explicit"}


def structure(graph: Graph) -> list[tuple]:
    """Every node as (name, op, the outputs it reads, a constant's bytes): equal before and
    after a pass exactly when the pass left the graph as it was (weights scaled in place
    included)."""
    return sorted((node.name, node.op, tuple((s.node.name, s.index) for s in node.inputs),
                   b"" if node.value is None else node.value.tobytes())
                  for node in graph.nodes())


def finegrain(*names: str):
    """Conversion options whose --finegrain_fusing protects exactly the nodes named."""
    import re

    from converter.options import ConversionOptions

    return ConversionOptions.from_flags({"finegrain_fusing": ",".join(map(re.escape, names))})
