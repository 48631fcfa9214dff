"""Matrix products, softmax and reductions."""
from __future__ import annotations

import numpy as np

from ...builders.reduction import reduce
from ..context import TFNodeContext
from . import registry

_REDUCTIONS = {"Mean": "ReduceMean", "Max": "ReduceMax", "Min": "ReduceMin", "Sum": "ReduceSum",
               "Prod": "ReduceProd"}


@registry.register("MatMul")
def matmul(ctx: TFNodeContext):
    return ctx.op("MatMul", ctx.input(0), ctx.input(1),
                  transpose_a=bool(ctx.attr("transpose_a", False)),
                  transpose_b=bool(ctx.attr("transpose_b", False)))


@registry.register("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def batch_matmul(ctx: TFNodeContext):
    return ctx.op("MatMul", ctx.input(0), ctx.input(1),
                  transpose_a=bool(ctx.attr("adj_x", False)),
                  transpose_b=bool(ctx.attr("adj_y", False)))


@registry.register("Softmax")
def softmax(ctx: TFNodeContext):
    return ctx.op("SoftMax", ctx.input(0), axis=-1)


@registry.register(*_REDUCTIONS)
def reduction(ctx: TFNodeContext):
    axes = ctx.const_value(1)
    axes_input = ctx.index_input(1) if axes is None else ctx.ints(np.atleast_1d(axes))
    return reduce(ctx.graph, _REDUCTIONS[ctx.op_type], ctx.input(0), axes_input,
                  keep_dims=bool(ctx.attr("keep_dims", False)), name=ctx.name)
