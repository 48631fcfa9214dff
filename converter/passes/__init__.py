"""Graph passes, one per module, run in the order of `PIPELINE`.

Each pass module exposes `run(graph, options) -> int`, the number of rewrites it made, and opens
its docstring with the pattern before and after. After every pass the graph's shapes are inferred
again, so a pass that leaves the graph inconsistent is caught and named at once.
"""
from __future__ import annotations

import importlib
import logging

from ..errors import ConversionError, InternalError
from ..graph import Graph
from ..options import ConversionOptions

log = logging.getLogger(__name__)

# Order matters; each line says why it stands where it does.
PIPELINE = [
    "constant_folding",          # fold what frontends left computable (weight transposes, BN maths)
    "transpose_sinking",         # cancel the layout Transposes frontends put around NCHW-only ops
    "constant_folding",          # fold the constants the sinking rearranged
    "preprocessing",             # mean/scale/reverse-channels right after the inputs, before fusing
    "fuse_linear_into_conv",     # Multiply by a per-channel constant folds into conv weights
    "constant_folding",
    "compress_fp16",             # last: store f32 constants as f16 with a decompression Convert
]

_FUSING = {"fuse_linear_into_conv"}


def run_passes(graph: Graph, options: ConversionOptions) -> None:
    for name in PIPELINE:
        if name in _FUSING and options.disable_fusing:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        try:
            rewrites = module.run(graph, options)
            graph.infer_shapes()
        except ConversionError as exc:
            if isinstance(exc, InternalError) and not str(exc).startswith("pass "):
                raise InternalError(f"pass {name}: {exc}") from exc
            raise
        log.debug("pass %s: %d rewrite(s), %d nodes", name, rewrites, len(graph.nodes()))
