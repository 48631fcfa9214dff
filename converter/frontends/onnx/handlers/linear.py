"""Gemm, MatMul and Softmax."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.elementwise import binary
from ..context import OnnxNodeContext
from . import registry
from ._util import flatten_2d, known_rank


@registry.register("Gemm")
def gemm(ctx: OnnxNodeContext) -> Output:
    """alpha * A' B' + beta * C as MatMul, Multiply and Add (the scalings only when not 1).
    Helper ops are named `<node>/...`; the last op takes the node's own name."""
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    steps = ["matmul"] + (["alpha"] if alpha != 1 else []) \
        + (["bias"] if ctx.has_input(2) and beta != 0 else [])

    def add_op(step: str, op_type: str, *inputs: Output, **attrs) -> Output:
        if step == steps[-1]:
            return ctx.op(op_type, *inputs, **attrs)
        return ctx.helper(op_type, *inputs, suffix=step, **attrs)

    out = add_op("matmul", "MatMul", ctx.input(0), ctx.input(1),
                 transpose_a=bool(ctx.attr("transA", 0)), transpose_b=bool(ctx.attr("transB", 0)))
    if alpha != 1:
        out = add_op("alpha", "Multiply", out, ctx.scalar(alpha, out), auto_broadcast="numpy")
    if "bias" in steps:
        bias = ctx.input(2)
        if beta != 1:
            bias = binary(ctx.graph, "Multiply", bias, ctx.scalar(beta, bias),
                          name=f"{ctx.name}/beta")
        out = add_op("bias", "Add", out, bias, auto_broadcast="numpy")
    return out


@registry.register("MatMul")
def matmul(ctx: OnnxNodeContext) -> Output:
    return ctx.op("MatMul", ctx.input(0), ctx.input(1), transpose_a=False, transpose_b=False)


@registry.register("Softmax")
def softmax_coerced(ctx: OnnxNodeContext) -> Output:
    """Before opset 13 Softmax works on the input coerced to 2D at `axis` (default 1)."""
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    axis = ctx.axis(int(ctx.attr("axis", 1)), rank)
    if axis == rank - 1:
        return ctx.op("SoftMax", data, axis=axis)
    flat = flatten_2d(ctx, data, axis, "flatten")
    result = ctx.helper("SoftMax", flat, suffix="softmax", axis=1)
    if data.shape is not None and -1 not in data.shape:
        target = ctx.const(np.array(data.shape, np.int64))
    else:
        target = ctx.helper("ShapeOf", data, suffix="shape", output_type="i64")
    return ctx.op("Reshape", result, target, special_zero=False)


@registry.register("Softmax", since=13)
def softmax(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    return ctx.op("SoftMax", data, axis=ctx.axis(int(ctx.attr("axis", -1)), data.rank))

