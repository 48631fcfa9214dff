"""BatchNormalization (inference) as a per-channel Multiply and Add, and LRN."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ._util import channel_shaped, known_rank


@registry.register("BatchNormalization")
def batch_normalization(ctx: OnnxNodeContext) -> Output:
    """y = x * factor + shift, factor = scale / sqrt(var + eps), shift = B - mean * factor.

    The per-channel factor and shift are built from graph ops rather than numpy, so that they
    fold into constants in the constant folding pass and a following fusion can take them."""
    if ctx.attr("training_mode", 0) or ctx.attr("is_test", 1) == 0:
        raise ctx.error("training mode is not supported; export the model for inference")
    if ctx.attr("spatial", 1) == 0:
        raise ctx.error("spatial=0 (per-activation statistics) is not supported")
    data = ctx.input(0)
    scale, bias, mean, var = (ctx.input(i) for i in range(1, 5))
    rank = known_rank(ctx, data)
    eps = ctx.scalar(float(ctx.attr("epsilon", 1e-5)), var)
    std = ctx.sub("Sqrt", ctx.sub("Add", var, eps, suffix="var_eps", auto_broadcast="numpy"),
                  suffix="std")
    factor = ctx.sub("Divide", scale, std, suffix="factor", auto_broadcast="numpy")
    shifted_mean = ctx.sub("Multiply", mean, factor, suffix="scaled_mean", auto_broadcast="numpy")
    shift = ctx.sub("Subtract", bias, shifted_mean, suffix="shift", auto_broadcast="numpy")
    scaled = ctx.sub("Multiply", data, channel_shaped(ctx, factor, rank, "factor_shape"),
                     suffix="scale", auto_broadcast="numpy")
    return ctx.op("Add", scaled, channel_shaped(ctx, shift, rank, "shift_shape"),
                  auto_broadcast="numpy")


@registry.register("LRN")
def lrn(ctx: OnnxNodeContext) -> Output:
    """ONNX divides alpha by size as OpenVINO's LRN over the channel axis does. OpenVINO's CPU
    plugin computes as if bias were 1, so a bias b != 1 is factored out:
    x / (b + a/n S)^beta = LRN(x, alpha=a/b, bias=1) * b^-beta."""
    size = ctx.attr("size")
    if size is None:
        raise ctx.error("it has no size")
    data = ctx.input(0)
    alpha, beta = float(ctx.attr("alpha", 1e-4)), float(ctx.attr("beta", 0.75))
    bias = float(ctx.attr("bias", 1.0))
    if bias <= 0:
        raise ctx.error(f"bias {bias} is not positive")
    axes = ctx.const(np.array([1], np.int64))
    if bias == 1:
        return ctx.op("LRN", data, axes, alpha=alpha, beta=beta, bias=1.0, size=int(size))
    normalized = ctx.sub("LRN", data, axes, suffix="lrn", alpha=alpha / bias, beta=beta,
                         bias=1.0, size=int(size))
    return ctx.op("Multiply", normalized, ctx.scalar(bias ** -beta, data), auto_broadcast="numpy")
