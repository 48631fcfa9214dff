"""The blocks around attention in recent language and state-space models: SwiGLU (a Swish-gated
product) and CausalConvWithState (a depthwise causal 1-D convolution carrying its state)."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ._util import i64


@registry.register("SwiGLU", since=28)
def swiglu(ctx: OnnxNodeContext) -> Output:
    """Swish(a, beta=alpha) * b: a * sigmoid(alpha * a) * b; a and b have the same shape."""
    a, b = ctx.input(0), ctx.input(1)
    if None not in (a.shape, b.shape) and a.shape != b.shape:
        raise ctx.error(f"its inputs must have the same shape, not {list(a.shape)} and "
                        f"{list(b.shape)}")
    alpha = float(ctx.attr("alpha", 1.0))
    gate = ctx.helper("Swish", a, ctx.scalar(alpha, a), suffix="swish")
    return ctx.op("Multiply", gate, b, auto_broadcast="numpy")


@registry.register("CausalConvWithState", since=27)
def causal_conv_with_state(ctx: OnnxNodeContext) -> list[Output]:
    """A depthwise 1-D convolution of [batch, channels, length] seeing only the past: the input
    is prefixed with the k-1 steps of `past_state` (zeros without it), convolved with the
    [channels, 1, k] weight (a GroupConvolution with one group per channel), biased, then
    optionally passed through SiLU; present_state is the last k-1 steps of the prefixed input."""
    data, weight = ctx.input(0), ctx.input(1)
    if data.rank != 3 or weight.rank != 3:
        raise ctx.error(f"its input and weight must be 3-D, not of ranks {data.rank} and "
                        f"{weight.rank}")
    kernel = weight.shape[2]
    if kernel == -1:
        raise ctx.error("the kernel size (last dimension of the weight) must be static")
    activation = str(ctx.attr("activation", "none"))
    if activation not in ("none", "silu", "swish"):
        raise ctx.error(f"activation {activation!r} is not one of none, silu, swish")
    prefixed = _with_past_state(ctx, data, kernel - 1)
    kernels = ctx.helper("Unsqueeze", weight, i64(ctx, [1]), suffix="group_weight")
    steps = [("conv", "GroupConvolution", [prefixed, kernels],
              dict(strides=[1], dilations=[1], pads_begin=[0], pads_end=[0],
                   auto_pad="explicit"))]
    if ctx.has_input(2):
        bias = ctx.helper("Unsqueeze", ctx.input(2), i64(ctx, [1]), suffix="bias_per_channel")
        steps.append(("biased", "Add", [bias], dict(auto_broadcast="numpy")))
    if activation != "none":
        steps.append(("silu", "Swish", [], {}))
    return [_chain(ctx, steps), _last_steps(ctx, prefixed, kernel - 1)]


def _chain(ctx: OnnxNodeContext, steps: list[tuple[str, str, list[Output], dict]]) -> Output:
    """Apply (suffix, op, further inputs, attributes) steps in turn, each to the previous
    result; the last gives the node's result, under the node's own name."""
    out = None
    for index, (suffix, op, inputs, attrs) in enumerate(steps):
        inputs = inputs if out is None else [out, *inputs]
        if index == len(steps) - 1:
            out = ctx.op(op, *inputs, **attrs)
        else:
            out = ctx.helper(op, *inputs, suffix=suffix, **attrs)
    return out


def _with_past_state(ctx: OnnxNodeContext, data: Output, steps: int) -> Output:
    """`data` prefixed along its length with past_state, or with `steps` zeros."""
    if ctx.has_input(3):
        return ctx.helper("Concat", ctx.input(3), data, suffix="prefixed", axis=2)
    if steps == 0:
        return data
    return ctx.helper("Pad", data, i64(ctx, [0, 0, steps]), i64(ctx, [0, 0, 0]),
                      ctx.scalar(0, data), suffix="prefixed", pad_mode="constant")


def _last_steps(ctx: OnnxNodeContext, prefixed: Output, steps: int) -> Output:
    """The last `steps` steps along the length (none when `steps` is 0)."""
    length = prefixed.shape[2]
    if length != -1:
        start = ctx.const(np.array([length - steps], np.int64))
    else:
        dims = ctx.helper("ShapeOf", prefixed, suffix="prefixed_shape", output_type="i64")
        total = ctx.helper("Gather", dims, i64(ctx, [2]), ctx.const(np.array(0, np.int64)),
                           suffix="prefixed_length", batch_dims=0)
        start = ctx.helper("Subtract", total, i64(ctx, [steps]), suffix="state_start",
                           auto_broadcast="numpy")
    stop = i64(ctx, [np.iinfo(np.int64).max])
    return ctx.helper("Slice", prefixed, start, stop, i64(ctx, [1]), i64(ctx, [2]),
                      suffix="present_state")
