"""Reductions over given axes: the OpenVINO ops frontends map their reduce ops onto."""
from __future__ import annotations

from ...errors import InternalError
from ...graph import Graph, Output

REDUCTION_OPS = frozenset({"ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
                           "ReduceL1", "ReduceL2"})


def reduce(graph: Graph, op: str, data: Output, axes: Output, keep_dims: bool,
           name: str) -> Output:
    """`op` (one of REDUCTION_OPS) of `data` over `axes` (an i64 tensor of axes, which the
    caller has normalized as its framework reads them)."""
    if op not in REDUCTION_OPS:
        raise InternalError(f"{op!r} is not an OpenVINO reduction")
    return graph.op(op, data, axes, name=name, keep_dims=bool(keep_dims))
