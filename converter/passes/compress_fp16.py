"""FP16 compression of weights, as OpenVINO itself writes it (`--data_type FP16`).

Before: Const(f32 w) -> op
After:  Const(f16 w, "<name>_compressed") -> Convert("<name>/decompression"(f32, rt_info decompression) -> op

The runtime keeps computing in its own precision; only storage halves. Values beyond the f16
range are clipped to ±65504 rather than becoming infinities. Inputs and outputs stay f32.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..ops import spec
from ..options import ConversionOptions

F16_MAX = float(np.finfo(np.float16).max)


def run(graph: Graph, options: ConversionOptions) -> int:
    if options.data_type != "FP16":
        return 0
    return _compress(graph)


def _compress(graph: Graph) -> int:
    """Compress the constants of `graph` and of every body of its If/Loop/TensorIterator
    nodes (a recurrent cell's kernels live in its Loop's body)."""
    compressed = sum(_compress(node.attrs[key].graph) for node in graph.nodes()
                     for _, key in getattr(spec(node.op), "bodies", ()))
    uses = graph.consumers()
    sweep = graph.sweep()
    for node in sweep:
        if node.op != "Const" or node.outputs[0].element_type != "f32":
            continue
        if any(user.rt_info.get("decompression") for user, _ in uses.get(id(node), [])):
            continue
        original = node.output()
        half = graph.const(np.clip(node.value, -F16_MAX, F16_MAX).astype(np.float16),
                           name=f"{node.name}_compressed")
        convert = graph.add("Convert", [half], {"destination_type": "f32"},
                            name=f"{node.name}/decompression")
        convert.rt_info["decompression"] = "0"
        sweep.replace(original, convert.output())
        compressed += 1
    return compressed
