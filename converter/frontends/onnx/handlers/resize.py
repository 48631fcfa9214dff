"""Resize (opset 10, 11, 13, 18, 19) and the deprecated Upsample.

Interpolate-11 where it computes what ONNX does, with scales, sizes and axes as run-time
inputs; `keep_aspect_ratio_policy` computes the sizes in the graph (`aspect_sizes`). Linear and
cubic resizing that Interpolate cannot reproduce is decomposed into per-axis products with
explicit kernel weights (`AxisWeights`): antialiasing (OpenVINO's CPU plugin ignores
Interpolate's), exclude_outside, the tf_crop_and_resize (roi, extrapolation_value) and
half_pixel_symmetric transformations, and align_corners whose output length may be fractional.
Nearest resizing with those two transformations is refused with a clear error.
"""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.reduction import reduce
from ..context import OnnxNodeContext
from . import registry
from ._util import i64, known_rank

MODES = {"nearest": "nearest", "linear": "linear_onnx", "cubic": "cubic"}
COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                    "tf_half_pixel_for_nn")
DECOMPOSED_MODES = ("tf_crop_and_resize", "half_pixel_symmetric")  # linear, cubic only
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
POLICIES = ("stretch", "not_larger", "not_smaller")


def text_attr(ctx: OnnxNodeContext, name: str, default: str) -> str:
    value = ctx.attr(name, default)
    return value.decode() if isinstance(value, bytes) else value


def interpolation_mode(ctx: OnnxNodeContext) -> str:
    mode = text_attr(ctx, "mode", "nearest")
    if mode not in MODES:
        raise ctx.error(f"mode {mode!r} is not one of {', '.join(MODES)}")
    return MODES[mode]


def interpolate_attrs(ctx: OnnxNodeContext, rank: int, coordinate_mode: str, nearest_mode: str,
                      cube_coeff: float = -0.75) -> dict:
    return {"mode": interpolation_mode(ctx), "coordinate_transformation_mode": coordinate_mode,
            "nearest_mode": nearest_mode, "antialias": False,
            "pads_begin": [0] * rank, "pads_end": [0] * rank, "cube_coeff": cube_coeff}


def legacy_resize(ctx: OnnxNodeContext, scales: Output) -> Output:
    """Upsample and Resize-10: scales per axis, asymmetric coordinates, nearest rounds down."""
    data = ctx.input(0)
    attrs = interpolate_attrs(ctx, known_rank(ctx, data), "asymmetric", "floor")
    return ctx.op("Interpolate", data, float_scales(ctx, scales),
                  shape_calculation_mode="scales", **attrs)


def float_scales(ctx: OnnxNodeContext, scales: Output) -> Output:
    if scales.element_type == "f32":
        return scales
    return ctx.helper("Convert", scales, suffix="scales_f32", destination_type="f32")


@registry.register("Upsample", since=7)
def upsample_7(ctx: OnnxNodeContext) -> Output:
    scales = ctx.attr("scales")
    if scales is None:
        raise ctx.error("lacks its scales attribute")
    return legacy_resize(ctx, ctx.const(np.array(scales, np.float32)))


@registry.register("Upsample", since=9)
@registry.register("Resize", since=10)
def upsample_9(ctx: OnnxNodeContext) -> Output:
    return legacy_resize(ctx, ctx.input(1))


def coordinate_mode(ctx: OnnxNodeContext) -> str:
    mode = text_attr(ctx, "coordinate_transformation_mode", "half_pixel")
    if mode not in COORDINATE_MODES + DECOMPOSED_MODES:
        raise ctx.error(f"coordinate_transformation_mode {mode!r} is not one of "
                        f"{', '.join(COORDINATE_MODES + DECOMPOSED_MODES)}")
    return mode


def nearest_mode(ctx: OnnxNodeContext) -> str:
    mode = text_attr(ctx, "nearest_mode", "round_prefer_floor")
    if mode not in NEAREST_MODES:
        raise ctx.error(f"nearest_mode {mode!r} is not one of {', '.join(NEAREST_MODES)}")
    return mode


def present(ctx: OnnxNodeContext, index: int) -> Output | None:
    """Input `index`, or None when it is absent or an empty tensor (Resize-11 passes an empty
    scales input beside sizes)."""
    if not ctx.has_input(index):
        return None
    source = ctx.input(index)
    if source.shape is not None and 0 in source.shape:
        return None
    return source


def resized_axes(ctx: OnnxNodeContext, rank: int) -> list[int] | None:
    axes = ctx.ints("axes")
    if axes is None:
        return None
    normalized = [ctx.axis(a, rank) for a in axes]
    if len(set(normalized)) != len(normalized):
        raise ctx.error(f"axes {axes} repeat an axis")
    return normalized


def aspect_sizes(ctx: OnnxNodeContext, data: Output, sizes: Output, axes: list[int] | None,
                 rank: int, policy: str) -> Output:
    """The sizes that keep the aspect ratio: one scale for every resized axis, the min
    (not_larger) or max (not_smaller) of sizes / input dims, times each input dim rounded half
    up. (Interpolate then samples by size / dim, which is that scale unless the rounding moved
    a size.)"""
    axes = list(range(rank)) if axes is None else axes
    shape = ctx.helper("ShapeOf", data, suffix="input_shape", output_type="i64")
    dims = ctx.helper("Gather", shape, i64(ctx, axes), ctx.const(np.array(0, np.int64)),
                      suffix="resized_dims", batch_dims=0)
    float_dims = ctx.helper("Convert", dims, suffix="dims_f32", destination_type="f32")
    ratios = ctx.helper("Divide", float_scales(ctx, sizes), float_dims, suffix="ratios",
                        auto_broadcast="numpy")
    pick = "ReduceMin" if policy == "not_larger" else "ReduceMax"
    scale = reduce(ctx.graph, pick, ratios, i64(ctx, [0]), True, f"{ctx.name}/aspect_scale")
    scaled = ctx.helper("Multiply", float_dims, scale, suffix="scaled_dims",
                        auto_broadcast="numpy")
    half_up = ctx.helper("Floor", ctx.helper("Add", scaled, ctx.const(np.array(0.5, np.float32)),
                                             suffix="half", auto_broadcast="numpy"),
                         suffix="rounded_dims")
    return ctx.helper("Convert", half_up, suffix="aspect_sizes", destination_type="i64")


def fractional_lengths_possible(ctx: OnnxNodeContext, data: Output, scales: Output | None,
                                axes: list[int] | None) -> bool:
    """Whether some input length * scale may not be whole: align_corners then maps by that
    fractional length in ONNX, by the whole output length in Interpolate."""
    if scales is None:
        return False
    values = ctx.const_value(2)
    if values is None or data.shape is None:
        return True
    dims = [data.shape[a] for a in (range(len(data.shape)) if axes is None else axes)]
    return any(d == -1 or abs(d * float(v) - round(d * float(v))) > 1e-6
               for d, v in zip(dims, np.ravel(values)))


def needs_weights(ctx: OnnxNodeContext, mode: str, transform: str, data: Output,
                  scales: Output | None, axes: list[int] | None) -> bool:
    """Whether this linear or cubic Resize takes the explicit-weights decomposition: for what
    Interpolate cannot reproduce (see `resize_by_weights`)."""
    if mode == "nearest":
        return False
    return (transform in DECOMPOSED_MODES or bool(int(ctx.attr("antialias", 0)))
            or (mode == "cubic" and bool(int(ctx.attr("exclude_outside", 0))))
            or (transform == "align_corners"
                and fractional_lengths_possible(ctx, data, scales, axes)))


@registry.register("Resize", since=11)
def resize(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    rank = known_rank(ctx, data)
    mode = text_attr(ctx, "mode", "nearest")
    transform = coordinate_mode(ctx)
    if mode == "nearest" and transform in DECOMPOSED_MODES:
        raise ctx.error(f"coordinate_transformation_mode {transform!r} is supported with modes "
                        f"'linear' and 'cubic' only")
    attrs = interpolate_attrs(ctx, rank, transform, nearest_mode(ctx),
                              float(ctx.attr("cubic_coeff_a", -0.75)))
    axes = resized_axes(ctx, rank)
    scales, sizes = present(ctx, 2), present(ctx, 3)
    if (scales is None) == (sizes is None):
        raise ctx.error("needs exactly one of its scales and sizes inputs")
    policy = text_attr(ctx, "keep_aspect_ratio_policy", "stretch")
    if policy not in POLICIES:
        raise ctx.error(f"keep_aspect_ratio_policy {policy!r} is not one of {', '.join(POLICIES)}")
    if sizes is not None and policy != "stretch":
        sizes = aspect_sizes(ctx, data, sizes, axes, rank, policy)
    if needs_weights(ctx, mode, transform, data, scales, axes):
        return resize_by_weights(ctx, data, rank, mode, transform, axes, scales, sizes)
    if scales is not None:
        target, attrs["shape_calculation_mode"] = float_scales(ctx, scales), "scales"
    else:
        target, attrs["shape_calculation_mode"] = sizes, "sizes"
    inputs = [data, target] + ([] if axes is None else [i64(ctx, axes)])
    return ctx.op("Interpolate", *inputs, **attrs)


# -- linear and cubic resizing by explicit weights ----------------------------------------------

SUPPORT = {"linear": 1, "cubic": 2}  # the kernel's radius, in input samples


class AxisWeights:
    """The resizing of one axis as a matrix product: each output position's source coordinate
    (ONNX's coordinate transformation), the interpolation kernel's weight for every input
    sample (edge samples repeated past the ends, as ONNX pads), and the weighted sum.

    This reproduces what Interpolate cannot: antialiasing (the kernel widened by 1 / scale and
    its weights renormalized), exclude_outside (only real samples, renormalized), the
    tf_crop_and_resize and half_pixel_symmetric transformations, and align_corners by a
    fractional output length."""

    def __init__(self, ctx: OnnxNodeContext, data: Output, axis: int, position: int, rank: int):
        self.ctx, self.axis, self.position, self.rank = ctx, axis, position, rank
        shape = ctx.helper("ShapeOf", data, suffix=self.name("shape"), output_type="i64")
        self.size_in = self.pick(shape, axis, "size_in")
        self.length = self.f32(self.size_in, "length")

    def name(self, suffix: str) -> str:
        return f"axis{self.axis}/{suffix}"

    def f32(self, value: Output, suffix: str) -> Output:
        return self.ctx.helper("Convert", value, suffix=self.name(suffix), destination_type="f32")

    def pick(self, vector: Output, index: int, suffix: str) -> Output:
        ctx = self.ctx
        return ctx.helper("Gather", vector, ctx.const(np.array(index, np.int64)),
                          ctx.const(np.array(0, np.int64)), suffix=self.name(suffix),
                          batch_dims=0)

    def arith(self, op: str, a: Output, b: Output | float, suffix: str) -> Output:
        if not isinstance(b, Output):
            b = self.ctx.const(np.array(b, np.float32))
        return self.ctx.helper(op, a, b, suffix=self.name(suffix), auto_broadcast="numpy")

    def select(self, condition: Output, then: Output | float, other: Output, suffix: str) -> Output:
        if not isinstance(then, Output):
            then = self.ctx.const(np.array(then, np.float32))
        return self.ctx.helper("Select", condition, then, other, suffix=self.name(suffix),
                               auto_broadcast="numpy")

    # -- where each output position samples ----------------------------------------------------
    def lengths(self, scales: Output | None, sizes: Output | None) -> tuple[Output, Output, Output]:
        """(scale, the output length ONNX's formulas read: input length * scale, the output
        length as an i64 scalar)."""
        if sizes is not None:
            size = self.pick(sizes, self.position, "size")
            exact = self.f32(size, "size_f32")
            return self.arith("Divide", exact, self.length, "scale"), exact, size
        scale = self.pick(float_scales(self.ctx, scales), self.position, "scale")
        exact = self.arith("Multiply", self.length, scale, "scaled_length")
        floor = self.ctx.helper("Floor", exact, suffix=self.name("floor_length"))
        size = self.ctx.helper("Convert", floor, suffix=self.name("size"), destination_type="i64")
        return scale, exact, size

    def positions(self, start: Output, stop: Output, suffix: str) -> Output:
        ctx = self.ctx
        return ctx.helper("Range", start, stop, ctx.const(np.array(1, np.int64)),
                          suffix=self.name(suffix), output_type="i64")

    def source(self, transform: str, x: Output, scale: Output, exact: Output, size: Output,
               roi: Output | None, count: int) -> Output:
        """The input coordinate each output position `x` reads, as ONNX transforms it."""
        single = self.arith("Equal", exact, 1.0, "single_output")
        if transform == "asymmetric":
            return self.arith("Divide", x, scale, "source")
        if transform == "tf_half_pixel_for_nn":
            return self.arith("Divide", self.arith("Add", x, 0.5, "centre"), scale, "source")
        if transform == "align_corners":
            steps = self.arith("Maximum", self.arith("Subtract", exact, 1.0, "out_last"), 1e-6,
                               "steps")
            spread = self.arith("Multiply", x, self.arith("Divide", self.last(), steps, "step"),
                                "spread")
            return self.select(single, 0.0, spread, "source")
        if transform == "tf_crop_and_resize":
            return self.crop_source(x, exact, single, roi, count)
        half = self.arith("Subtract", self.arith("Divide", self.arith("Add", x, 0.5, "centre"),
                                                 scale, "scaled"), 0.5, "half_pixel")
        if transform == "pytorch_half_pixel":
            return self.select(single, -0.5, half, "source")
        if transform == "half_pixel_symmetric":  # centred when the output length was rounded
            adjustment = self.arith("Divide", self.f32(size, "size_f32"), exact, "adjustment")
            offset = self.arith("Multiply", self.arith("Multiply", self.length, 0.5, "middle"),
                                self.arith("Subtract", self.ctx.const(np.array(1, np.float32)),
                                           adjustment, "shrink"), "offset")
            return self.arith("Add", half, offset, "source")
        return half

    def last(self) -> Output:
        return self.arith("Subtract", self.length, 1.0, "last")

    def crop_source(self, x: Output, exact: Output, single: Output, roi: Output,
                    count: int) -> Output:
        """start * (L - 1) + x * (end - start) * (L - 1) / (out - 1); the middle of the crop
        for a single output position."""
        start = self.pick(roi, self.position, "roi_start")
        end = self.pick(roi, self.position + count, "roi_end")
        span = self.arith("Multiply", self.arith("Subtract", end, start, "roi_span"), self.last(),
                          "span")
        steps = self.arith("Maximum", self.arith("Subtract", exact, 1.0, "out_last"), 1e-6,
                           "steps")
        spread = self.arith("Multiply", x, self.arith("Divide", span, steps, "step"), "spread")
        moved = self.select(single, self.arith("Multiply", span, 0.5, "middle"), spread, "moved")
        return self.arith("Add", moved, self.arith("Multiply", start, self.last(), "origin"),
                          "source")

    def outside(self, source: Output) -> Output:
        """Where the source coordinate leaves [0, L - 1] (tf_crop_and_resize extrapolates)."""
        low = self.arith("Less", source, 0.0, "before")
        high = self.arith("Greater", source, self.last(), "after")
        return self.ctx.helper("LogicalOr", low, high, suffix=self.name("outside"),
                               auto_broadcast="numpy")

    # -- the weights ------------------------------------------------------------------------------
    def samples(self, mode: str, kernel_scale: Output | None,
                exclude_outside: bool) -> tuple[Output, Output]:
        """(sample positions as f32, the input index each reads): the real samples only with
        exclude_outside, else enough edge repeats past both ends to cover the kernel."""
        ctx = self.ctx
        zero = ctx.const(np.array(0, np.int64))
        if exclude_outside:
            index = self.positions(zero, self.size_in, "samples")
            return self.f32(index, "sample_positions"), index
        if kernel_scale is None:
            pad = ctx.const(np.array(SUPPORT[mode] + 2, np.int64))
        else:
            radius = self.arith("Divide", ctx.const(np.array(SUPPORT[mode], np.float32)),
                                kernel_scale, "radius")
            pad = ctx.helper("Convert", ctx.helper("Ceiling", radius, suffix=self.name("reach")),
                             suffix=self.name("reach_i64"), destination_type="i64")
            pad = ctx.helper("Add", pad, ctx.const(np.array(2, np.int64)),
                             suffix=self.name("pad"), auto_broadcast="numpy")
        begin = ctx.helper("Negative", pad, suffix=self.name("pad_begin"))
        end = ctx.helper("Add", self.size_in, pad, suffix=self.name("pad_end"),
                         auto_broadcast="numpy")
        position = self.positions(begin, end, "samples")
        last = ctx.helper("Subtract", self.size_in, ctx.const(np.array(1, np.int64)),
                          suffix=self.name("last_index"), auto_broadcast="numpy")
        index = ctx.helper("Minimum", ctx.helper("Maximum", position, zero,
                                                 suffix=self.name("clamp_low"),
                                                 auto_broadcast="numpy"),
                           last, suffix=self.name("sample_index"), auto_broadcast="numpy")
        return self.f32(position, "sample_positions"), index

    def weights(self, mode: str, source: Output, positions: Output, kernel_scale: Output | None,
                normalize: bool, cubic_a: float) -> Output:
        """[output, sample] kernel weights of each sample for each output position."""
        ctx = self.ctx
        column = ctx.helper("Unsqueeze", source, i64(ctx, [1]), suffix=self.name("source_col"))
        row = ctx.helper("Unsqueeze", positions, i64(ctx, [0]), suffix=self.name("sample_row"))
        distance = ctx.helper("Abs", self.arith("Subtract", row, column, "offset_from_source"),
                              suffix=self.name("distance"))
        if kernel_scale is not None:
            distance = self.arith("Multiply", distance, kernel_scale, "scaled_distance")
        if mode == "linear":
            weights = self.arith("Maximum", self.arith("Subtract", ctx.const(
                np.array(1, np.float32)), distance, "tent"), 0.0, "weights")
        else:
            weights = self.cubic(distance, cubic_a)
        if not normalize:
            return weights
        total = reduce(ctx.graph, "ReduceSum", weights, i64(ctx, [1]), True,
                       f"{ctx.name}/{self.name('weight_sum')}")
        return self.arith("Divide", weights, total, "normalized_weights")

    def cubic(self, d: Output, a: float) -> Output:
        """Keys' cubic kernel with coefficient `a`, 0 from distance 2 on."""
        d2 = self.arith("Multiply", d, d, "d2")
        d3 = self.arith("Multiply", d2, d, "d3")

        def poly(c3: float, c2: float, c1: float, c0: float, suffix: str) -> Output:
            total = self.arith("Add", self.arith("Multiply", d3, c3, f"{suffix}_3"),
                               self.arith("Multiply", d2, c2, f"{suffix}_2"), f"{suffix}_32")
            total = self.arith("Add", total, self.arith("Multiply", d, c1, f"{suffix}_1"),
                               f"{suffix}_321")
            return self.arith("Add", total, c0, suffix)

        near = poly(a + 2, -(a + 3), 0.0, 1.0, "near")
        far = poly(a, -5 * a, 8 * a, -4 * a, "far")
        outer = self.select(self.arith("Less", d, 2.0, "in_reach"), far,
                            self.ctx.const(np.zeros((), np.float32)), "outer")
        return self.select(self.arith("LessEqual", d, 1.0, "is_near"), near, outer, "weights")

    def apply(self, data: Output, index: Output, weights: Output) -> Output:
        """sum over samples of data[..., index[j], ...] * weights[o, j], along the axis."""
        ctx = self.ctx
        gathered = ctx.helper("Gather", data, index, ctx.const(np.array(self.axis, np.int64)),
                              suffix=self.name("gathered"), batch_dims=0)
        if data.element_type not in (None, "f32"):
            weights = ctx.helper("Convert", weights, suffix=self.name("typed_weights"),
                                 destination_type=data.element_type)
        order = [a for a in range(self.rank) if a != self.axis] + [self.axis]
        moved = gathered if self.axis == self.rank - 1 else ctx.helper(
            "Transpose", gathered, i64(ctx, order), suffix=self.name("axis_last"))
        out = ctx.helper("MatMul", moved, weights, suffix=self.name("weighted"),
                         transpose_a=False, transpose_b=True)
        if self.axis == self.rank - 1:
            return out
        back = list(np.argsort(order))
        return ctx.helper("Transpose", out, i64(ctx, back), suffix=self.name("axis_back"))

    def along_axis(self, vector: Output) -> Output:
        """A per-output-position vector shaped to broadcast along the axis."""
        if self.axis == self.rank - 1:
            return vector
        trailing = i64(self.ctx, list(range(1, self.rank - self.axis)))
        return self.ctx.helper("Unsqueeze", vector, trailing, suffix=self.name("along"))


def resize_by_weights(ctx: OnnxNodeContext, data: Output, rank: int, mode: str, transform: str,
                      axes: list[int] | None, scales: Output | None,
                      sizes: Output | None) -> Output:
    """Linear or cubic Resize one axis after the other (both are separable), each a product
    with explicit weights (`AxisWeights`); tf_crop_and_resize gives `extrapolation_value`
    wherever a resized axis' source coordinate leaves the input."""
    axes = list(range(rank)) if axes is None else axes
    antialiased = bool(int(ctx.attr("antialias", 0)))
    exclude_outside = bool(int(ctx.attr("exclude_outside", 0)))
    cubic_a = float(ctx.attr("cubic_coeff_a", -0.75))
    roi = fill = None
    if transform == "tf_crop_and_resize":
        if not ctx.has_input(1):
            raise ctx.error("tf_crop_and_resize needs its roi input")
        roi = float_scales(ctx, ctx.input(1))
        fill = ctx.scalar(float(ctx.attr("extrapolation_value", 0.0)), data)
    out = data
    for position, axis in enumerate(axes):
        step = AxisWeights(ctx, out, axis, position, rank)
        scale, exact, size = step.lengths(scales, sizes)
        x = step.f32(step.positions(ctx.const(np.array(0, np.int64)), size, "outputs"),
                     "output_positions")
        source = step.source(transform, x, scale, exact, size, roi, len(axes))
        kernel_scale = step.arith("Minimum", scale, 1.0, "kernel_scale") if antialiased else None
        positions, index = step.samples(mode, kernel_scale, exclude_outside)
        weights = step.weights(mode, source, positions, kernel_scale,
                               antialiased or exclude_outside, cubic_a)
        out = step.apply(out, index, weights)
        if fill is not None:
            out = ctx.helper("Select", step.along_axis(step.outside(source)), fill, out,
                             suffix=step.name("extrapolated"), auto_broadcast="numpy")
    return out
