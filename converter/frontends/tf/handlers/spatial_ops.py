"""Ops that move data between the batch, the channels and the spatial axes, and the transposed
convolution: DepthToSpace, SpaceToDepth, SpaceToBatchND, BatchToSpaceND, Conv2DBackpropInput.

SpaceToBatchND -> Conv2D -> BatchToSpaceND is how TF1 wrote dilated convolutions; the ops are
translated one to one here and the pass `fold_space_to_batch` folds the trio back into one
dilated Convolution."""
from __future__ import annotations

import numpy as np

from ....ops._shapes import same_pads
from ...common import constant_value
from ..context import NCHW_TO_NHWC, NHWC_TO_NCHW, TFNodeContext
from . import registry

HWOI_TO_IOHW = (3, 2, 0, 1)  # Conv2DBackpropInput's filter [kh, kw, out, in] -> [in, out, kh, kw]


def _in_nchw(ctx: TFNodeContext, op: str, data, **attrs):
    """`op` (which reads NCHW) applied to the node's data in its own layout."""
    nhwc = ctx.is_nhwc()
    if nhwc:
        data = ctx.transpose(data, NHWC_TO_NCHW, "to_nchw")
    result = ctx.op(op, data, **attrs)
    return ctx.transpose(result, NCHW_TO_NHWC, "to_nhwc") if nhwc else result


@registry.register("DepthToSpace")
def depth_to_space(ctx: TFNodeContext):
    """TensorFlow reads the channels as [block, block, C']: OpenVINO's blocks_first."""
    return _in_nchw(ctx, "DepthToSpace", ctx.input(0), block_size=int(ctx.attr("block_size")),
                    mode="blocks_first")


@registry.register("SpaceToDepth")
def space_to_depth(ctx: TFNodeContext):
    return _in_nchw(ctx, "SpaceToDepth", ctx.input(0), block_size=int(ctx.attr("block_size")),
                    mode="blocks_first")


def _per_axis(ctx: TFNodeContext, what: str):
    """block_shape [M] and the [M, 2] amounts of input 2 spread over all axes of the data (the
    batch axis and the axes after the M spatial ones keep block 1 and amount 0)."""
    data = ctx.input(0)
    if data.rank is None:
        raise ctx.error("the data's rank must be known")
    block = np.asarray(ctx.required_value(1, "block_shape"), dtype=np.int64).reshape(-1)
    amounts = np.asarray(ctx.required_value(2, what), dtype=np.int64).reshape(-1, 2)
    rest = data.rank - 1 - len(block)
    full_block = np.concatenate([[1], block, np.ones(rest, np.int64)])
    begin = np.concatenate([[0], amounts[:, 0], np.zeros(rest, np.int64)])
    end = np.concatenate([[0], amounts[:, 1], np.zeros(rest, np.int64)])
    return [ctx.ints(full_block), ctx.ints(begin), ctx.ints(end)]


@registry.register("SpaceToBatchND")
def space_to_batch_nd(ctx: TFNodeContext):
    return ctx.op("SpaceToBatch", ctx.input(0), *_per_axis(ctx, "paddings"))


@registry.register("BatchToSpaceND")
def batch_to_space_nd(ctx: TFNodeContext):
    return ctx.op("BatchToSpace", ctx.input(0), *_per_axis(ctx, "crops"))


@registry.register("Conv2DBackpropInput")
def conv2d_backprop_input(ctx: TFNodeContext):
    """The gradient of Conv2D for its input, i.e. a transposed convolution of out_backprop
    (input 2) to the size `input_sizes` (input 0) gives.

    With that size known, the forward convolution's pads are known too and the transposed one
    gets them explicitly, plus the output_padding that makes up the rows the forward
    convolution's stride skipped (a run-time batch in input_sizes, as Keras packs it, does not
    matter). With spatial sizes known only at run time, they are an input of the transposed
    convolution and OpenVINO spreads the padding itself."""
    nhwc = ctx.is_nhwc()
    filters = ctx.input(1)
    if filters.shape is None:
        raise ctx.error("the filter's shape must be known")
    weights = ctx.transpose(filters, HWOI_TO_IOHW, "weights")
    data = ctx.input(2)
    if nhwc:
        data = ctx.transpose(data, NHWC_TO_NCHW, "to_nchw")
    strides = ctx.spatial(ctx.attr("strides"), nhwc)
    dilations = ctx.spatial(ctx.attr("dilations", [1, 1, 1, 1]), nhwc)
    kernel = list(filters.shape[:2])
    sizes = _spatial_sizes(ctx, nhwc)
    attrs = {"strides": strides, "dilations": dilations}
    if sizes is not None and data.shape is not None and -1 not in data.shape[2:]:
        attrs.update(_explicit_window(ctx, sizes, list(data.shape[2:]), kernel, strides,
                                      dilations, nhwc))
        result = ctx.op("ConvolutionBackpropData", data, weights, **attrs)
    else:
        padding = ctx.attr("padding")
        if padding not in ("SAME", "VALID"):
            raise ctx.error(f"padding {padding} needs input_sizes known at conversion")
        zeros = [0, 0]
        spatial = ctx.ints(sizes) if sizes is not None else ctx.graph.op(
            "Gather", ctx.helper("Convert", ctx.input(0), destination_type="i64"),
            ctx.ints([1, 2] if nhwc else [2, 3]), ctx.ints(0), name=f"{ctx.name}/spatial",
            batch_dims=0)
        # OpenVINO's same_lower puts the odd padding row where TensorFlow's SAME does for a
        # transposed convolution (checked against TensorFlow in the tests)
        result = ctx.op("ConvolutionBackpropData", data, weights, spatial, pads_begin=zeros,
                        pads_end=zeros, auto_pad="same_lower" if padding == "SAME" else "valid",
                        output_padding=zeros, **attrs)
    return ctx.transpose(result, NCHW_TO_NHWC, "to_nhwc") if nhwc else result


def _spatial_sizes(ctx: TFNodeContext, nhwc: bool) -> list[int] | None:
    """(H, W) of the result, when input_sizes is known at conversion, if only in part (Keras
    packs the run-time batch with constant spatial sizes)."""
    sizes = ctx.const_value(0)
    entries = list(np.ravel(sizes)) if sizes is not None else _packed_entries(ctx, ctx.input(0))
    if entries is None or len(entries) != 4:
        return None
    spatial = ctx.spatial(entries, nhwc)
    return None if None in spatial else [int(v) for v in spatial]


def _packed_entries(ctx: TFNodeContext, sizes) -> list | None:
    """The entries of a 1-D Concat of one-element parts, None for those known only at run time."""
    node = sizes.node
    if node.op != "Concat" or sizes.rank != 1:
        return None
    entries = []
    for part in node.inputs:
        value = constant_value(part, ctx._memo)
        if value is not None:
            entries.extend(np.ravel(value))
        elif part.shape == (1,):
            entries.append(None)
        else:
            return None
    return entries


def _explicit_window(ctx: TFNodeContext, sizes: list[int], inputs: list[int], kernel: list[int],
                     strides: list[int], dilations: list[int], nhwc: bool) -> dict:
    """The forward convolution's pads for an input of `sizes`, and the output padding that
    brings the transposed convolution's result to exactly those sizes."""
    padding = ctx.attr("padding")
    if padding == "SAME":
        pads = [same_pads(n, k, s, d) for n, k, s, d in zip(sizes, kernel, strides, dilations)]
    elif padding == "VALID":
        pads = [(0, 0)] * len(sizes)
    elif padding == "EXPLICIT":
        pairs = np.asarray(ctx.attr("explicit_paddings"), dtype=np.int64).reshape(-1, 2)
        pads = [tuple(int(p) for p in pair) for pair in (pairs[1:3] if nhwc else pairs[2:4])]
    else:
        raise ctx.error(f"padding {padding!r} is not supported")
    extra = []
    for n, i, k, s, d, (pb, pe) in zip(sizes, inputs, kernel, strides, dilations, pads):
        covered = s * (i - 1) + d * (k - 1) + 1 - pb - pe
        if not 0 <= n - covered < s:
            raise ctx.error(f"input_sizes {sizes} do not fit out_backprop's spatial sizes "
                            f"{inputs} for this kernel, stride and padding")
        extra.append(n - covered)
    return {"pads_begin": [p[0] for p in pads], "pads_end": [p[1] for p in pads],
            "auto_pad": "explicit", "output_padding": extra}
