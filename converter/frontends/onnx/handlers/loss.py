"""Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, decomposed.

OpenVINO has no loss op. The picked log-probability `input[n, target[n, d...], d...]` is a
boolean OneHot of the target along the class axis selecting from the input, summed over that
axis (a Select, not a product, so that a -inf elsewhere on the class axis cannot make a NaN);
a target outside [0, C) (an ignored one) selects nothing. Per-element weights are gathered from
`weight` by the target (ignored elements weigh 0), and `reduction` sums, or divides the sum by
the total weight (`mean`).
"""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
from ....graph import Output
from ...builders.reduction import reduce
from ..context import OnnxNodeContext
from . import registry
from ._util import i64, known_rank

REDUCTIONS = ("none", "sum", "mean")


def class_count(ctx: OnnxNodeContext, data: Output) -> Output:
    """The length of axis 1 (the classes) of `data`, a 0-D i64: constant when static."""
    if data.shape is not None and data.shape[1] != -1:
        return ctx.const(np.array(data.shape[1], np.int64))
    shape = ctx.helper("ShapeOf", data, suffix="shape", output_type="i64")
    return ctx.helper("Gather", shape, ctx.const(np.array(1, np.int64)),
                      ctx.const(np.array(0, np.int64)), suffix="classes", batch_dims=0)


def picked_log_prob(ctx: OnnxNodeContext, log_prob: Output, target: Output) -> Output:
    """log_prob[n, target[n, d...], d...], 0 where the target is out of [0, C)."""
    hits = ctx.helper("OneHot", target, class_count(ctx, log_prob),
                      ctx.const(np.array(True)), ctx.const(np.array(False)),
                      suffix="target_one_hot", axis=1)
    chosen = ctx.helper("Select", hits, log_prob, ctx.scalar(0.0, log_prob), suffix="chosen",
                        auto_broadcast="numpy")
    return reduce(ctx.graph, "ReduceSum", chosen, i64(ctx, [1]), False, f"{ctx.name}/picked")


def element_weights(ctx: OnnxNodeContext, target: Output, weight: Output | None,
                    like: Output) -> Output | None:
    """The weight of each target element: weight[target], 0 where target == ignore_index;
    None when every element weighs 1."""
    ignore_index = ctx.attr("ignore_index")
    ignored = None
    if ignore_index is not None:
        index = ctx.const(np.array(ignore_index, to_numpy(target.element_type)))
        ignored = ctx.helper("Equal", target, index, suffix="ignored", auto_broadcast="numpy")
    if weight is None:
        if ignored is None:
            return None
        return ctx.helper("Select", ignored, ctx.scalar(0.0, like), ctx.scalar(1.0, like),
                          suffix="weights", auto_broadcast="numpy")
    safe_target = target
    if ignored is not None:  # ignore_index may lie outside the weights (negative, or >= C)
        zero = ctx.const(np.array(0, to_numpy(target.element_type)))
        safe_target = ctx.helper("Select", ignored, zero, target, suffix="safe_target",
                                 auto_broadcast="numpy")
    gathered = ctx.helper("Gather", weight, safe_target, ctx.const(np.array(0, np.int64)),
                          suffix="gathered_weights", batch_dims=0)
    if ignored is None:
        return gathered
    return ctx.helper("Select", ignored, ctx.scalar(0.0, like), gathered, suffix="weights",
                      auto_broadcast="numpy")


def reduced_loss(ctx: OnnxNodeContext, loss: Output, weights: Output | None) -> Output:
    """`loss` ([N, d...]) reduced as the node's `reduction` says."""
    reduction = ctx.attr("reduction", "mean")
    if isinstance(reduction, bytes):
        reduction = reduction.decode()
    if reduction not in REDUCTIONS:
        raise ctx.error(f"reduction {reduction!r} is not one of {', '.join(REDUCTIONS)}")
    if reduction == "none":
        return loss
    axes = i64(ctx, list(range(known_rank(ctx, loss))))
    if reduction == "mean" and weights is None:
        return reduce(ctx.graph, "ReduceMean", loss, axes, False, f"{ctx.name}/mean")
    total = reduce(ctx.graph, "ReduceSum", loss, axes, False, f"{ctx.name}/sum")
    if reduction == "sum":
        return total
    weight_sum = reduce(ctx.graph, "ReduceSum", weights, axes, False, f"{ctx.name}/weight_sum")
    return ctx.helper("Divide", total, weight_sum, suffix="mean", auto_broadcast="numpy")


def negative_log_likelihood(ctx: OnnxNodeContext, log_prob: Output, target: Output,
                            weight: Output | None) -> Output:
    picked = ctx.helper("Negative", picked_log_prob(ctx, log_prob, target), suffix="negative")
    weights = element_weights(ctx, target, weight, log_prob)
    loss = picked if weights is None else ctx.helper("Multiply", picked, weights,
                                                     suffix="weighted", auto_broadcast="numpy")
    return reduced_loss(ctx, loss, weights)


def optional_input(ctx: OnnxNodeContext, index: int) -> Output | None:
    return ctx.input(index) if ctx.has_input(index) else None


@registry.register("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(ctx: OnnxNodeContext) -> Output:
    return negative_log_likelihood(ctx, ctx.input(0), ctx.input(1), optional_input(ctx, 2))


@registry.register("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(ctx: OnnxNodeContext) -> list[Output]:
    log_prob = ctx.helper("LogSoftmax", ctx.input(0), suffix="log_prob", axis=1)
    loss = negative_log_likelihood(ctx, log_prob, ctx.input(1), optional_input(ctx, 2))
    return [loss, log_prob][:max(ctx.num_outputs, 1)]
