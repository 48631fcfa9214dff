"""Scaling constant weights, as the fusions into Convolution and MatMul do."""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Output


def scaled_weights(graph: Graph, weights_out: Output, factor: np.ndarray,
                   uses: dict[int, list]) -> Output:
    """The weights times `factor`. Weights only the fused op reads are scaled in place, so that
    a model's weights are not held twice while the pass runs (a sweep keeps every node it
    started with alive until it ends); shared or read-only ones are copied."""
    weights = weights_out.value
    product = (weights * factor).astype(weights.dtype, copy=False)
    if len(uses.get(id(weights_out.node), [])) == 1 and weights.flags.writeable:
        weights[...] = product
        return weights_out
    return graph.const(product, name=weights_out.node.name)
