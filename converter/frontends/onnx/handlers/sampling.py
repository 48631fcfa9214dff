"""Sampling a feature map at computed positions: GridSample, AffineGrid (the grid an affine
transform gives), RoiAlign, and MaxUnpool (MaxPool's values scattered back to their indices).

GridSample and RoiAlign map onto OpenVINO's GridSample-9 and ROIAlign-9; AffineGrid is a MatMul
of a base grid (built from the run-time output size) with theta; MaxUnpool is a
ScatterElementsUpdate into zeros."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.elementwise import binary
from ..context import OnnxNodeContext
from . import registry

GRID_MODES = {"linear": "bilinear", "bilinear": "bilinear", "cubic": "bicubic",
              "bicubic": "bicubic", "nearest": "nearest"}
PADDING_MODES = ("zeros", "border", "reflection")


@registry.register("GridSample", since=16)
def grid_sample(ctx: OnnxNodeContext) -> Output:
    """Opset 16 names the modes bilinear and bicubic, opset 20 linear and cubic."""
    data, grid = ctx.input(0), ctx.input(1)
    if data.rank is not None and data.rank != 4:
        raise ctx.error(f"samples a rank-{data.rank} input; OpenVINO's GridSample takes 4-D "
                        f"[N, C, H, W] data only (volumetric sampling cannot be converted)")
    mode = ctx.attr("mode", "linear" if ctx.opset >= 20 else "bilinear")
    padding = ctx.attr("padding_mode", "zeros")
    if mode not in GRID_MODES:
        raise ctx.error(f"mode {mode!r} is not one of {', '.join(GRID_MODES)}")
    if padding not in PADDING_MODES:
        raise ctx.error(f"padding_mode {padding!r} is not one of {', '.join(PADDING_MODES)}")
    return ctx.op("GridSample", data, grid, align_corners=bool(ctx.attr("align_corners", 0)),
                  mode=GRID_MODES[mode], padding_mode=padding)


# ONNX coordinate_transformation_mode -> OpenVINO aligned_mode: half_pixel shifts the box by
# -0.5 before sampling, which OpenVINO names half_pixel_for_nn.
ROI_ALIGNED_MODES = {"half_pixel": "half_pixel_for_nn", "output_half_pixel": "asymmetric"}


def _roi_align(ctx: OnnxNodeContext, transformation: str) -> Output:
    if transformation not in ROI_ALIGNED_MODES:
        raise ctx.error(f"coordinate_transformation_mode {transformation!r} is not one of "
                        f"{', '.join(ROI_ALIGNED_MODES)}")
    mode = ctx.attr("mode", "avg")
    if mode not in ("avg", "max"):
        raise ctx.error(f"mode {mode!r} is neither avg nor max")
    return ctx.op("ROIAlign", ctx.input(0), ctx.input(1), ctx.input(2),
                  pooled_h=int(ctx.attr("output_height", 1)),
                  pooled_w=int(ctx.attr("output_width", 1)),
                  sampling_ratio=int(ctx.attr("sampling_ratio", 0)),
                  spatial_scale=float(ctx.attr("spatial_scale", 1.0)), mode=mode,
                  aligned_mode=ROI_ALIGNED_MODES[transformation])


@registry.register("RoiAlign", since=10)
def roi_align_10(ctx: OnnxNodeContext) -> Output:
    """Before opset 16 the box is not shifted by half a pixel."""
    return _roi_align(ctx, "output_half_pixel")


@registry.register("RoiAlign", since=16)
def roi_align(ctx: OnnxNodeContext) -> Output:
    return _roi_align(ctx, ctx.attr("coordinate_transformation_mode", "half_pixel"))


def _base_coordinates(ctx: OnnxNodeContext, count: Output, like: Output, align_corners: bool,
                      suffix: str) -> Output:
    """The normalized positions of `count` points along one axis: -1 .. 1 through the centres
    of the corner pixels (align_corners) or through their outer edges."""
    g, name = ctx.graph, f"{ctx.name}/{suffix}"
    size = ctx.helper("Convert", count, suffix=f"{suffix}/size", destination_type=like.element_type)
    index = ctx.helper("Range", ctx.scalar(0, like), size, ctx.scalar(1, like),
                       suffix=f"{suffix}/index", output_type=like.element_type)
    if align_corners:
        span = binary(g, "Subtract", size, ctx.scalar(1, like), name=f"{name}/span")
        ratio = binary(g, "Divide", binary(g, "Multiply", index, ctx.scalar(2, like),
                                           name=f"{name}/twice"), span, name=f"{name}/ratio")
    else:
        centre = binary(g, "Add", binary(g, "Multiply", index, ctx.scalar(2, like),
                                         name=f"{name}/twice"), ctx.scalar(1, like),
                        name=f"{name}/centre")
        ratio = binary(g, "Divide", centre, size, name=f"{name}/ratio")
    return binary(g, "Subtract", ratio, ctx.scalar(1, like), name=f"{name}/position")


@registry.register("AffineGrid", since=20)
def affine_grid(ctx: OnnxNodeContext) -> Output:
    """theta [N, k, k + 1] applied to the homogeneous base grid (x, y[, z], 1) of the output
    size [N, C, (D,) H, W], given at run time: [N, (D,) H, W, k]."""
    theta, size = ctx.input(0), ctx.input(1)
    if size.shape is None or len(size.shape) != 1 or size.shape[0] not in (4, 5):
        raise ctx.error(f"its size input must be a static [4] or [5] vector, not shape "
                        f"{None if size.shape is None else list(size.shape)}")
    spatial = size.shape[0] - 2
    g = ctx.graph
    sizes = ctx.helper("Convert", size, suffix="sizes", destination_type="i64")
    align_corners = bool(ctx.attr("align_corners", 0))
    axes = []
    for i in range(spatial):  # D, H, W order: each shaped to broadcast along its own axis
        count = ctx.helper("Gather", sizes, ctx.const(np.int64(2 + i)), ctx.const(np.int64(0)),
                           suffix=f"size{i}", batch_dims=0)
        coords = _base_coordinates(ctx, count, theta, align_corners, f"axis{i}")
        pattern = [1] * spatial
        pattern[i] = -1
        axes.append(ctx.helper("Reshape", coords, ctx.const(np.array(pattern, np.int64)),
                               suffix=f"axis{i}/along", special_zero=False))
    zeros = axes[0]
    for i, coords in enumerate(axes[1:]):
        zeros = binary(g, "Add", zeros, coords, name=f"{ctx.name}/extent{i}")
    zeros = binary(g, "Multiply", zeros, ctx.scalar(0, theta), name=f"{ctx.name}/zeros")
    components = [binary(g, "Add", coords, zeros, name=f"{ctx.name}/component{i}")
                  for i, coords in enumerate(reversed(axes))]  # x (W) first
    components.append(binary(g, "Add", zeros, ctx.scalar(1, theta), name=f"{ctx.name}/ones"))
    unsqueezed = [ctx.helper("Unsqueeze", c, ctx.const(np.array([-1], np.int64)),
                             suffix=f"homogeneous{i}") for i, c in enumerate(components)]
    base = ctx.helper("Concat", *unsqueezed, suffix="base_grid", axis=-1)
    points = ctx.helper("Reshape", base, ctx.const(np.array([-1, spatial + 1], np.int64)),
                        suffix="base_points", special_zero=False)
    grid = ctx.helper("MatMul", points, theta, suffix="transformed", transpose_a=False,
                      transpose_b=True)
    target = ctx.helper("Concat", ctx.helper("Slice", sizes, ctx.const(np.array([0], np.int64)),
                                             ctx.const(np.array([1], np.int64)),
                                             ctx.const(np.array([1], np.int64)),
                                             suffix="batch"),
                        ctx.helper("Slice", sizes, ctx.const(np.array([2], np.int64)),
                                   ctx.const(np.array([2 + spatial], np.int64)),
                                   ctx.const(np.array([1], np.int64)), suffix="spatial"),
                        ctx.const(np.array([spatial], np.int64)), suffix="grid_shape", axis=0)
    return ctx.op("Reshape", grid, target, special_zero=False)


def _unpooled_shape(ctx: OnnxNodeContext, data: Output) -> list[int]:
    """MaxUnpool's default output shape: each spatial size (in - 1) * stride + kernel - pads."""
    kernel = ctx.ints("kernel_shape")
    if kernel is None:
        raise ctx.error("lacks its kernel_shape attribute")
    spatial = len(kernel)
    strides = ctx.ints("strides", [1] * spatial)
    pads = ctx.ints("pads", [0] * (2 * spatial))
    if data.shape is None or -1 in data.shape:
        raise ctx.error(f"needs a static input shape (not "
                        f"{None if data.shape is None else list(data.shape)}) or an "
                        f"output_shape input")
    sizes = [(d - 1) * s + k - pads[i] - pads[spatial + i]
             for i, (d, s, k) in enumerate(zip(data.shape[2:], strides, kernel))]
    return [*data.shape[:2], *sizes]


@registry.register("MaxUnpool", since=9)
def max_unpool(ctx: OnnxNodeContext) -> Output:
    """Each value of X written at its index (flat over the whole default-shaped output, as
    MaxPool's indices count) into zeros; an output_shape input then pads the end of each
    dimension with zeros, as ONNX's reference does."""
    data, indices = ctx.input(0), ctx.input(1)
    default = np.array(_unpooled_shape(ctx, data), np.int64)
    flat = ctx.const(np.array([-1], np.int64))
    zeros = ctx.const(np.zeros(int(np.prod(default)), dtype=np.dtype(
        {"f64": np.float64, "f16": np.float16}.get(data.element_type, np.float32))))
    if data.element_type not in ("f64", "f32", "f16"):
        zeros = ctx.helper("Convert", zeros, suffix="zeros", destination_type=data.element_type)
    scattered = ctx.helper(
        "ScatterElementsUpdate", zeros,
        ctx.helper("Reshape", indices, flat, suffix="flat_indices", special_zero=False),
        ctx.helper("Reshape", data, flat, suffix="flat_values", special_zero=False),
        ctx.const(np.int64(0)), suffix="scatter", reduction="none", use_init_val=True)
    if not ctx.has_input(2):
        return ctx.op("Reshape", scattered, ctx.const(default), special_zero=False)
    unpooled = ctx.helper("Reshape", scattered, ctx.const(default), suffix="unpooled",
                          special_zero=False)
    wanted = ctx.helper("Convert", ctx.const_input(2), suffix="output_shape",
                        destination_type="i64")
    extra = binary(ctx.graph, "Subtract", wanted, ctx.const(default), name=f"{ctx.name}/extra")
    return ctx.op("Pad", unpooled, ctx.const(np.zeros(len(default), np.int64)), extra,
                  ctx.scalar(0, data), pad_mode="constant")
