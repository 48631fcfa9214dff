"""BatchNormalization as a per-channel Multiply and Add (in training_mode with the batch's own
statistics, the running ones updated beside), and LRN."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ...builders.batch_norm import batch_norm_inference
from ...builders.elementwise import binary
from ...builders.reduction import reduce
from ._util import known_rank

# The names BatchNormalization's helper ops have always had: `<node>/const` for constants.
_BATCH_NORM_STEPS = {"epsilon": "const"}


@registry.register("BatchNormalization")
def batch_normalization(ctx: OnnxNodeContext) -> Output | list[Output]:
    """y = x * factor + shift over the channel axis 1 (NC...): the shared decomposition, whose
    factor and shift fold into constants that a following fusion can take."""
    if ctx.attr("training_mode", 0):
        return _batch_normalization_training(ctx)
    if ctx.attr("is_test", 1) == 0:
        raise ctx.error("training mode (is_test=0) is not supported; export the model for "
                        "inference")
    if ctx.attr("spatial", 1) == 0:
        raise ctx.error("spatial=0 (per-activation statistics) is not supported")
    data = ctx.input(0)
    known_rank(ctx, data)  # the [C] factor and shift are reshaped to [1, C, 1, ...]
    scale, bias, mean, var = (ctx.input(i) for i in range(1, 5))
    return batch_norm_inference(ctx.graph, data, scale, bias, mean, var,
                                epsilon=float(ctx.attr("epsilon", 1e-5)), channel_axis=1,
                                name=ctx.name, renamed=_BATCH_NORM_STEPS)


def _batch_statistics(ctx: OnnxNodeContext, data: Output, rank: int) -> tuple[Output, Output]:
    """The per-channel [C] mean and (population) variance of `data` over every axis but 1."""
    g, name = ctx.graph, ctx.name
    axes = ctx.const(np.array([a for a in range(rank) if a != 1], np.int64))
    mean = reduce(g, "ReduceMean", data, axes, True, name=f"{name}/batch_mean_kept")
    centered = binary(g, "Subtract", data, mean, name=f"{name}/centered")
    variance = reduce(g, "ReduceMean", binary(g, "Multiply", centered, centered,
                                              name=f"{name}/squared"),
                      axes, False, name=f"{name}/batch_var")
    mean = ctx.helper("Squeeze", mean, axes, suffix="batch_mean")
    return mean, variance


def _running(ctx: OnnxNodeContext, previous: Output, current: Output, momentum: float,
             suffix: str) -> Output:
    """previous * momentum + current * (1 - momentum)."""
    g, name = ctx.graph, ctx.name
    kept = binary(g, "Multiply", previous, ctx.scalar(momentum, previous),
                  name=f"{name}/{suffix}_kept")
    added = binary(g, "Multiply", current, ctx.scalar(1 - momentum, current),
                   name=f"{name}/{suffix}_added")
    return binary(g, "Add", kept, added, name=f"{name}/{suffix}")


def _batch_normalization_training(ctx: OnnxNodeContext) -> list[Output]:
    """training_mode=1 (opset 14 on): y normalized with the batch's own statistics, and the
    running mean and variance updated with them by `momentum`, as an inference run of a
    training graph computes them."""
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    if rank < 2:
        raise ctx.error(f"its input has rank {rank}; batch normalization needs N and C axes")
    scale, bias, mean, var = (ctx.input(i) for i in range(1, 5))
    batch_mean, batch_var = _batch_statistics(ctx, data, rank)
    y = batch_norm_inference(ctx.graph, data, scale, bias, batch_mean, batch_var,
                             epsilon=float(ctx.attr("epsilon", 1e-5)), channel_axis=1,
                             name=ctx.name, renamed=_BATCH_NORM_STEPS)
    momentum = float(ctx.attr("momentum", 0.9))
    return [y, _running(ctx, mean, batch_mean, momentum, "running_mean"),
            _running(ctx, var, batch_var, momentum, "running_var")]


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
    normalized = ctx.helper("LRN", data, axes, suffix="lrn", alpha=alpha / bias, beta=beta,
                            bias=1.0, size=int(size))
    return binary(ctx.graph, "Multiply", normalized, ctx.scalar(bias ** -beta, data),
                  name=ctx.name)
