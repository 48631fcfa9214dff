"""Conv: Convolution, or GroupConvolution when `group` > 1; the bias becomes an Add."""
from __future__ import annotations

from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ._util import channel_shaped, reshape, window_attrs


def group_weights(ctx: OnnxNodeContext, weights: Output, groups: int) -> Output:
    """[O, I/G, k...] -> [G, O/G, I/G, k...], the layout GroupConvolution reads."""
    out_channels = weights.shape[0]
    if out_channels % groups:
        raise ctx.error(f"{out_channels} output channels do not divide into {groups} groups")
    pattern = [groups, out_channels // groups, *weights.shape[1:]]
    return reshape(ctx, weights, pattern, "group_weights")


@registry.register("Conv")
def conv(ctx: OnnxNodeContext) -> Output:
    data, weights = ctx.input(0), ctx.const_input(1)
    if weights.shape is None or -1 in weights.shape:
        raise ctx.error("its weights need a static shape")
    spatial = len(weights.shape) - 2
    kernel = ctx.ints("kernel_shape", list(weights.shape[2:]))
    if kernel != list(weights.shape[2:]):
        raise ctx.error(f"kernel_shape {kernel} disagrees with weights of shape "
                        f"{list(weights.shape)}")
    attrs = window_attrs(ctx, spatial)
    attrs["dilations"] = ctx.ints("dilations", [1] * spatial)
    groups = int(ctx.attr("group", 1))
    if groups == 1:
        out = ctx.op("Convolution", data, weights, **attrs)
    else:
        out = ctx.op("GroupConvolution", data, group_weights(ctx, weights, groups), **attrs)
    if ctx.has_input(2):
        bias = channel_shaped(ctx, ctx.input(2), spatial + 2, "bias_shape")
        out = ctx.helper("Add", out, bias, suffix="bias", auto_broadcast="numpy")
    return out
