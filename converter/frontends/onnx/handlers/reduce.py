"""ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd: axes as an attribute, or as an
input from opset 18 (ReduceSum: 13)."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.reduction import reduce
from ..context import OnnxNodeContext
from . import registry
from ._util import known_rank

# ONNX's reductions carry OpenVINO's names.
REDUCTIONS = {op: op for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd")}
AXES_INPUT_SINCE = {"ReduceSum": 13}


def _reduce(ctx: OnnxNodeContext, axes: list[int] | None) -> Output:
    """No axes means every axis, unless noop_with_empty_axes=1 makes the op an identity."""
    data = ctx.input(0)
    if not axes:
        if ctx.attr("noop_with_empty_axes", 0):
            return data
        axes = list(range(known_rank(ctx, data)))
    rank = known_rank(ctx, data)
    axes_const = ctx.const(np.array(sorted({ctx.axis(a, rank) for a in axes}), np.int64))
    return reduce(ctx.graph, REDUCTIONS[ctx.op_type], data, axes_const,
                  keep_dims=bool(ctx.attr("keepdims", 1)), name=ctx.name)


def _axes_attribute(ctx: OnnxNodeContext) -> Output:
    return _reduce(ctx, ctx.ints("axes"))


def _axes_input(ctx: OnnxNodeContext) -> Output:
    axes = ctx.required_value(1, "axes") if ctx.has_input(1) else None
    return _reduce(ctx, None if axes is None else [int(a) for a in np.ravel(axes)])


for _onnx_op in REDUCTIONS:
    registry.register(_onnx_op)(_axes_attribute)
    registry.register(_onnx_op, since=AXES_INPUT_SINCE.get(_onnx_op, 18))(_axes_input)
