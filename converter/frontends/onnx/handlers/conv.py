"""Conv (Convolution, or GroupConvolution when `group` > 1), ConvTranspose
((Group)ConvolutionBackpropData) and DeformConv (DeformableConvolution-8); a bias becomes an Add."""
from __future__ import annotations

from ....graph import Output
from ....ops.convolution import backprop_output
from ..context import OnnxNodeContext
from . import registry
from ._util import AUTO_PAD, channel_shaped, reshape, window_attrs


def group_weights(ctx: OnnxNodeContext, weights: Output, groups: int) -> Output:
    """[O, I/G, k...] -> [G, O/G, I/G, k...], the layout GroupConvolution reads."""
    out_channels = weights.shape[0]
    if out_channels % groups:
        raise ctx.error(f"{out_channels} output channels do not divide into {groups} groups")
    pattern = [groups, out_channels // groups, *weights.shape[1:]]
    return reshape(ctx, weights, pattern, "group_weights")


def _data_and_weights(ctx: OnnxNodeContext) -> tuple[Output, Output, list[int]]:
    """The data, the weights (static shape: [out or in channels, ..., *kernel]) and the kernel,
    which `kernel_shape`, when given, must agree with."""
    data, weights = ctx.input(0), ctx.const_input(1)
    if weights.shape is None or -1 in weights.shape:
        raise ctx.error("its weights need a static shape")
    kernel = ctx.ints("kernel_shape", list(weights.shape[2:]))
    if kernel != list(weights.shape[2:]):
        raise ctx.error(f"kernel_shape {kernel} disagrees with weights of shape "
                        f"{list(weights.shape)}")
    return data, weights, kernel


@registry.register("Conv")
def conv(ctx: OnnxNodeContext) -> Output:
    data, weights, kernel = _data_and_weights(ctx)
    spatial = len(kernel)
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


# -- ConvTranspose ------------------------------------------------------------------------------

def transposed_group_weights(ctx: OnnxNodeContext, weights: Output, groups: int) -> Output:
    """[C_in, C_out/G, k...] -> [G, C_in/G, C_out/G, k...], the GroupConvolutionBackpropData
    layout."""
    in_channels = weights.shape[0]
    if in_channels % groups:
        raise ctx.error(f"{in_channels} input channels do not divide into {groups} groups")
    pattern = [groups, in_channels // groups, *weights.shape[1:]]
    return reshape(ctx, weights, pattern, "group_weights")


def _static_spatial(ctx: OnnxNodeContext, data: Output, spatial: int, why: str) -> list[int]:
    if data.shape is None or -1 in data.shape[2:]:
        raise ctx.error(f"{why} needs the spatial dimensions of its input, which are not static; "
                        f"give the model's inputs a shape (--input_shape)")
    return list(data.shape[2:2 + spatial])


def transposed_pads(ctx: OnnxNodeContext, data: Output, kernel: list[int], strides: list[int],
                    dilations: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Explicit (pads_begin, pads_end, output_padding) of a ConvTranspose.

    With `output_shape` (or SAME_* auto_pad, whose default output_shape is input * stride) the
    pads are generated, as ONNX says: the total padding that gives that shape, its larger half
    at the end for SAME_UPPER, at the beginning otherwise; an output larger than the unpadded
    one grows at its end (output_padding), as ONNX's reference does. Otherwise `pads` (zeros
    for VALID) apply as they are."""
    spatial = len(kernel)
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if auto_pad not in AUTO_PAD:
        raise ctx.error(f"auto_pad {auto_pad!r} is not one of {', '.join(AUTO_PAD)}")
    output_padding = ctx.ints("output_padding", [0] * spatial)[-spatial:]
    target = ctx.ints("output_shape")
    if target is None and auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * spatial)
        if auto_pad == "NOTSET":
            pads = ctx.ints("pads", pads)
        return pads[:spatial], pads[spatial:], output_padding
    sizes = _static_spatial(ctx, data, spatial, "its output_shape or auto_pad")
    target = [size * s for size, s in zip(sizes, strides)] if target is None else target[-spatial:]
    begin, end = [], []
    for i in range(spatial):
        total = backprop_output(sizes[i], kernel[i], strides[i], dilations[i], 0, 0,
                                output_padding[i]) - target[i]
        if total < 0:
            output_padding[i] -= total
            total = 0
        small, large = total // 2, total - total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else large)
        end.append(large if auto_pad == "SAME_UPPER" else small)
    return begin, end, output_padding


@registry.register("ConvTranspose")
def conv_transpose(ctx: OnnxNodeContext) -> Output:
    data, weights, kernel = _data_and_weights(ctx)
    spatial = len(kernel)
    strides = ctx.ints("strides", [1] * spatial)
    dilations = ctx.ints("dilations", [1] * spatial)
    begin, end, output_padding = transposed_pads(ctx, data, kernel, strides, dilations)
    attrs = {"strides": strides, "dilations": dilations, "pads_begin": begin, "pads_end": end,
             "auto_pad": "explicit", "output_padding": output_padding}
    groups = int(ctx.attr("group", 1))
    if groups == 1:
        out = ctx.op("ConvolutionBackpropData", data, weights, **attrs)
    else:
        out = ctx.op("GroupConvolutionBackpropData", data,
                     transposed_group_weights(ctx, weights, groups), **attrs)
    if ctx.has_input(2):
        bias = channel_shaped(ctx, ctx.input(2), spatial + 2, "bias_shape")
        out = ctx.helper("Add", out, bias, suffix="bias", auto_broadcast="numpy")
    return out


# -- DeformConv ---------------------------------------------------------------------------------

@registry.register("DeformConv", since=19)
def deform_conv(ctx: OnnxNodeContext) -> Output:
    """DeformableConvolution-8 reads the offsets ([N, offset_group * kH * kW * 2, oH, oW], (y, x)
    pairs) and the mask as ONNX lays them out; samples outside the input blend with zeros, as
    ONNX's bilinear GridSample does (bilinear_interpolation_pad)."""
    data, weights, offsets = ctx.input(0), ctx.const_input(1), ctx.input(2)
    if weights.shape is None or len(weights.shape) != 4:
        raise ctx.error("only 2-D deformable convolution (weights of rank 4, static) is supported "
                        "by OpenVINO's DeformableConvolution")
    kernel = ctx.ints("kernel_shape", list(weights.shape[2:]))
    if kernel != list(weights.shape[2:]):
        raise ctx.error(f"kernel_shape {kernel} disagrees with weights of shape "
                        f"{list(weights.shape)}")
    pads = ctx.ints("pads", [0] * 4)
    attrs = {"strides": ctx.ints("strides", [1, 1]), "dilations": ctx.ints("dilations", [1, 1]),
             "pads_begin": pads[:2], "pads_end": pads[2:], "auto_pad": "explicit",
             "group": int(ctx.attr("group", 1)),
             "deformable_group": int(ctx.attr("offset_group", 1)),
             "bilinear_interpolation_pad": True}
    inputs = [data, offsets, weights] + ([ctx.input(4)] if ctx.has_input(4) else [])
    out = ctx.op("DeformableConvolution", *inputs, **attrs)
    if ctx.has_input(3):
        bias = channel_shaped(ctx, ctx.input(3), 4, "bias_shape")
        out = ctx.helper("Add", out, bias, suffix="bias", auto_broadcast="numpy")
    return out
