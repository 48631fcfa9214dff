"""Image resizing: ResizeBilinear and ResizeNearestNeighbor as OpenVINO's Interpolate-11.

TensorFlow's two flags choose how an output pixel maps back onto the input (x_out -> x_in,
scale = in / out, or (in - 1) / (out - 1) with align_corners):
    neither               x_in = x_out * scale                  asymmetric
    align_corners         x_in = x_out * (in - 1) / (out - 1)    align_corners
    half_pixel_centers    x_in = (x_out + 0.5) * scale - 0.5     half_pixel (bilinear)
                          x_in = (x_out + 0.5) * scale           tf_half_pixel_for_nn (nearest)
Nearest picks floor(x_in), except with align_corners, which rounds halves up. Both flags at
once is an error in TensorFlow itself.
"""
from __future__ import annotations

from ..context import NCHW_TO_NHWC, NHWC_TO_NCHW, TFNodeContext
from . import registry


def _coordinate_mode(ctx: TFNodeContext, nearest: bool) -> str:
    align_corners = bool(ctx.attr("align_corners", False))
    half_pixel = bool(ctx.attr("half_pixel_centers", False))
    if align_corners and half_pixel:
        raise ctx.error("align_corners and half_pixel_centers cannot both be set (TensorFlow "
                        "rejects this node too)")
    if align_corners:
        return "align_corners"
    if half_pixel:
        return "tf_half_pixel_for_nn" if nearest else "half_pixel"
    return "asymmetric"


def _resize(ctx: TFNodeContext, nearest: bool):
    """images [N, H, W, C] resized to `size` [2] (new H, W): transposed to NCHW around the
    Interpolate so that the layout Transposes cancel against their neighbours'."""
    sizes = ctx.index_input(1)
    if sizes.element_type != "i64":
        sizes = ctx.helper("Convert", sizes, suffix="sizes", destination_type="i64")
    data = ctx.input(0)
    if not nearest and data.element_type not in ("f32", "f16", "f64"):  # TF returns float32
        data = ctx.helper("Convert", data, suffix="to_float", destination_type="f32")
    data = ctx.transpose(data, NHWC_TO_NCHW, "to_nchw")
    mode = _coordinate_mode(ctx, nearest)
    nearest_mode = "round_prefer_ceil" if mode == "align_corners" else "floor"
    result = ctx.op("Interpolate", data, sizes, ctx.ints([2, 3]),
                    mode="nearest" if nearest else "linear_onnx",
                    shape_calculation_mode="sizes", coordinate_transformation_mode=mode,
                    nearest_mode=nearest_mode, antialias=False, pads_begin=[0, 0, 0, 0],
                    pads_end=[0, 0, 0, 0], cube_coeff=-0.75)
    return ctx.transpose(result, NCHW_TO_NHWC, "to_nhwc")


@registry.register("ResizeBilinear")
def resize_bilinear(ctx: TFNodeContext):
    return _resize(ctx, nearest=False)


@registry.register("ResizeNearestNeighbor")
def resize_nearest_neighbor(ctx: TFNodeContext):
    return _resize(ctx, nearest=True)
