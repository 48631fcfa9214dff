"""Moving axes: a Transpose by a permutation known at conversion time."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...graph import Graph, Output


def transpose(graph: Graph, data: Output, perm: Sequence[int], name: str, perm_name: str) -> Output:
    """`data` with axis i of the result taken from axis `perm[i]`, by a Transpose named `name`
    whose order is an i64 constant named `perm_name`."""
    order = graph.const(np.asarray(perm, dtype=np.int64).reshape(-1), name=perm_name)
    return graph.op("Transpose", data, order, name=name)
