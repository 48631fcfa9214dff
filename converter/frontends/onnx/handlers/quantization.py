"""Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, and the
integer and quantized products MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv.

OpenVINO has no quantize or dequantize op of ONNX's reading (its FakeQuantize works on floats
and ranges); each operator is decomposed into Convert, arithmetic, Round (half to even, as
ONNX rounds) and Clamp, so scales and zero points stay run-time inputs. The arithmetic follows
ONNX's reference: dequantizing computes in f32 ((x - zero_point) * scale) and converts to the
scale's type; quantizing divides by the scale, rounds, adds the zero point and saturates to the
target type's range. Integer products (MatMulInteger, ConvInteger and the inner product of the
QLinear ops) compute in i32 after subtracting the zero points.

Scales and zero points are per tensor (a scalar or one element), per axis (a 1-D tensor along
`axis`) or, from opset 21, blocked (the data's rank, `axis` shrunk by `block_size`).
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from ....element_types import is_float, to_numpy
from ....graph import Output
from ...builders.per_channel import channel_shape
from ..context import OnnxNodeContext
from ..model import element_type
from . import registry
from ._util import known_rank, reshape, window_attrs
from .cast import nan_as_negative_zero, saturated
from .conv import group_weights

FLOAT8 = ("f8e4m3", "f8e5m2")
QUANTIZED_INTEGERS = ("u8", "i8", "u16", "i16", "u4", "i4")


# -- shared pieces --------------------------------------------------------------------------

def converted(ctx: OnnxNodeContext, data: Output, target: str, suffix: str) -> Output:
    """`data` as `target`, through a Convert when its type differs."""
    if data.element_type == target:
        return data
    return ctx.helper("Convert", data, suffix=suffix, destination_type=target)


def integer_range(element_type: str) -> tuple[int, int]:
    info = ml_dtypes.iinfo(to_numpy(element_type))
    return int(info.min), int(info.max)


def broadcastable(ctx: OnnxNodeContext, param: Output, data: Output, axis: int,
                  block_size: int, what: str) -> Output:
    """A scale or zero point shaped to broadcast over `data`: per tensor as it is, per axis
    reshaped to [1, .., C, .., 1], blocked repeated `block_size` times along `axis`."""
    if param.shape is None:
        raise ctx.error(f"the rank of its {what} is unknown")
    if len(param.shape) == 0:
        return param
    if block_size:
        return repeated_blocks(ctx, param, data, axis, block_size, what)
    if len(param.shape) != 1:
        raise ctx.error(f"its {what} must be a scalar or 1-D (per axis) without block_size, "
                        f"but it has shape {list(param.shape)}")
    if param.shape == (1,):
        return reshape(ctx, param, [], f"{what}/scalar")
    rank = known_rank(ctx, data)
    return reshape(ctx, param, channel_shape(rank, ctx.axis(axis, rank)), f"{what}/per_axis")


def repeated_blocks(ctx: OnnxNodeContext, param: Output, data: Output, axis: int,
                    block_size: int, what: str) -> Output:
    """A blocked scale or zero point [.., B, ..] repeated to [.., B * block_size, ..] along
    `axis` and cut to the data's length there (the last block may be partial)."""
    rank = known_rank(ctx, data)
    axis = ctx.axis(axis, rank)
    shape = param.shape
    if len(shape) != rank or -1 in shape:
        raise ctx.error(f"its blocked {what} needs a static shape of the data's rank {rank}, "
                        f"but it has shape {list(shape)}")
    if block_size < 0:
        raise ctx.error(f"block_size {block_size} is negative")
    expanded = ctx.helper("Unsqueeze", param, ctx.const(np.array([axis + 1], np.int64)),
                          suffix=f"{what}/blocks")
    target = [*shape[:axis + 1], block_size, *shape[axis + 1:]]
    repeated = ctx.helper("Broadcast", expanded, ctx.const(np.array(target, np.int64)),
                          suffix=f"{what}/repeat", mode="numpy")
    merged = reshape(ctx, repeated, [*shape[:axis], shape[axis] * block_size, *shape[axis + 1:]],
                     f"{what}/repeated")
    length = data.shape[axis]
    if length == shape[axis] * block_size:
        return merged
    if length == -1:
        dims = ctx.helper("ShapeOf", data, suffix=f"{what}/data_shape", output_type="i64")
        stop = ctx.helper("Gather", dims, ctx.const(np.array([axis], np.int64)),
                          ctx.const(np.array(0, np.int64)), suffix=f"{what}/length", batch_dims=0)
    else:
        stop = ctx.const(np.array([length], np.int64))
    return ctx.helper("Slice", merged, ctx.const(np.array([0], np.int64)), stop,
                      ctx.const(np.array([1], np.int64)), ctx.const(np.array([axis], np.int64)),
                      suffix=f"{what}/cut")


def round_and_saturate(ctx: OnnxNodeContext, value: Output, zero_point: Output | None,
                       target: str) -> Output:
    """Round half to even, add the zero point (in f32), clamp to `target`'s range, convert."""
    value = ctx.helper("Round", value, suffix="round", mode="half_to_even")
    value = converted(ctx, value, "f32", "round/f32")
    if zero_point is not None:
        value = ctx.helper("Add", value, converted(ctx, zero_point, "f32", "zero_point/f32"),
                           suffix="add_zero_point", auto_broadcast="numpy")
    low, high = integer_range(target)
    value = ctx.helper("Clamp", value, suffix="saturate", min=float(low), max=float(high))
    return ctx.op("Convert", value, destination_type=target)


def compute_type(*types: str | None) -> str:
    """The float type numpy computes a mix of float types in: f64 if any is, one shared
    type as it is, f32 otherwise."""
    if "f64" in types:
        return "f64"
    if len(set(types)) == 1 and types[0] in ("f32", "f16", "bf16"):
        return types[0]
    return "f32"


def optional_type(ctx: OnnxNodeContext, name: str) -> str | None:
    value = ctx.attr(name)
    return None if value in (None, 0) else element_type(int(value), f"its {name}")


# -- DequantizeLinear ---------------------------------------------------------------------------

@registry.register("DequantizeLinear", since=10)
def dequantize_linear(ctx: OnnxNodeContext) -> Output:
    """y = (x - zero_point) * scale, in f32, as the scale's type (or output_dtype)."""
    x, scale = ctx.input(0), ctx.input(1)
    axis, block_size = int(ctx.attr("axis", 1)), int(ctx.attr("block_size", 0))
    target = optional_type(ctx, "output_dtype") or scale.element_type
    work = "f64" if scale.element_type == "f64" else "f32"
    value = converted(ctx, x, work, "x")
    # Float8 and float4 data carry no zero point (ONNX's reference reads theirs as zero).
    if ctx.has_input(2) and not is_float(x.element_type or "u8"):
        zero_point = broadcastable(ctx, ctx.input(2), x, axis, block_size, "zero_point")
        value = ctx.helper("Subtract", value, converted(ctx, zero_point, work, "zero_point/f"),
                           suffix="subtract_zero_point", auto_broadcast="numpy")
    scale = converted(ctx, broadcastable(ctx, scale, x, axis, block_size, "scale"), work, "scale/f")
    if target == work:
        return ctx.op("Multiply", value, scale, auto_broadcast="numpy")
    value = ctx.helper("Multiply", value, scale, suffix="scaled", auto_broadcast="numpy")
    return ctx.op("Convert", value, destination_type=target)


# -- QuantizeLinear -----------------------------------------------------------------------------

def quantized_type(ctx: OnnxNodeContext) -> str:
    """The zero point's type, else output_dtype, else u8."""
    declared = optional_type(ctx, "output_dtype")
    if ctx.has_input(2):
        zero_type = ctx.input(2).element_type
        if declared and declared != zero_type:
            raise ctx.error(f"output_dtype {declared} disagrees with its zero point's type "
                            f"{zero_type}")
        return zero_type
    return declared or "u8"


@registry.register("QuantizeLinear", since=10)
def quantize_linear(ctx: OnnxNodeContext) -> Output:
    """y = saturate(round(x / scale) + zero_point) for integers; float8 saturates x / scale
    (no zero point), float4 converts x / scale + zero_point."""
    x, scale = ctx.input(0), ctx.input(1)
    axis, block_size = int(ctx.attr("axis", 1)), int(ctx.attr("block_size", 0))
    target = quantized_type(ctx)
    work = optional_type(ctx, "precision") or compute_type(x.element_type, scale.element_type)
    scale = converted(ctx, broadcastable(ctx, scale, x, axis, block_size, "scale"), work, "scale/f")
    value = ctx.helper("Divide", converted(ctx, x, work, "x"), scale, suffix="divide",
                       auto_broadcast="numpy", m_pythondiv=True)
    zero_point = (broadcastable(ctx, ctx.input(2), x, axis, block_size, "zero_point")
                  if ctx.has_input(2) else None)
    if target in QUANTIZED_INTEGERS:
        return round_and_saturate(ctx, value, zero_point, target)
    if target in FLOAT8:
        if ctx.opset < 19 or bool(ctx.attr("saturate", 1)):
            value = saturated(ctx, value, target)
        return ctx.op("Convert", value, destination_type=target)
    if target == "f4e2m1":
        if zero_point is not None:
            value = ctx.helper("Add", value, converted(ctx, zero_point, work, "zero_point/f"),
                               suffix="add_zero_point", auto_broadcast="numpy")
        return ctx.op("Convert", nan_as_negative_zero(ctx, value), destination_type=target)
    raise ctx.error(f"quantizing to {target} is not defined (quantized types: "
                    f"{', '.join(QUANTIZED_INTEGERS + FLOAT8)}, f4e2m1)")


# -- DynamicQuantizeLinear ----------------------------------------------------------------------

@registry.register("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(ctx: OnnxNodeContext) -> list[Output]:
    """u8 quantization over the range of x widened to hold 0: scale = (max - min) / 255
    (1 / 255 for a range of 0), zero_point = round(-min / scale)."""
    x = ctx.input(0)
    rank = known_rank(ctx, x)
    axes = ctx.const(np.arange(rank, dtype=np.int64))
    zero = ctx.scalar(0.0, x)
    low = ctx.helper("Minimum", ctx.helper("ReduceMin", x, axes, suffix="min", keep_dims=False),
                     zero, suffix="min_with_zero", auto_broadcast="numpy")
    high = ctx.helper("Maximum", ctx.helper("ReduceMax", x, axes, suffix="max", keep_dims=False),
                      zero, suffix="max_with_zero", auto_broadcast="numpy")
    span = ctx.helper("Subtract", high, low, suffix="range", auto_broadcast="numpy")
    empty = ctx.helper("Equal", span, zero, suffix="range_is_zero", auto_broadcast="numpy")
    span = ctx.helper("Select", empty, ctx.scalar(1.0, x), span, suffix="range_or_one",
                      auto_broadcast="numpy")
    scale = ctx.helper("Divide", span, ctx.scalar(255.0, x), suffix="scale",
                       auto_broadcast="numpy", m_pythondiv=True)
    negative_low = ctx.helper("Negative", low, suffix="negative_min")
    zero_point = ctx.helper("Clamp", ctx.helper("Divide", negative_low, scale,
                                                suffix="zero_point/divide",
                                                auto_broadcast="numpy", m_pythondiv=True),
                            suffix="zero_point/saturate", min=0.0, max=255.0)
    zero_point = ctx.helper("Round", zero_point, suffix="zero_point/round", mode="half_to_even")
    quotient = ctx.helper("Divide", x, scale, suffix="divide", auto_broadcast="numpy",
                          m_pythondiv=True)
    y = round_and_saturate(ctx, quotient, zero_point, "u8")
    zero_point_u8 = ctx.helper("Convert", zero_point, suffix="zero_point", destination_type="u8")
    return [y, scale, zero_point_u8]


# -- integer products ---------------------------------------------------------------------------

def centered(ctx: OnnxNodeContext, data: Output, zero_point: Output | None,
             suffix: str) -> Output:
    """`data` - `zero_point` in i32 (the zero point already shaped to broadcast)."""
    value = converted(ctx, data, "i32", f"{suffix}/i32")
    if zero_point is None:
        return value
    return ctx.helper("Subtract", value, converted(ctx, zero_point, "i32", f"{suffix}/zp_i32"),
                      suffix=f"{suffix}/centered", auto_broadcast="numpy")


def per_row(ctx: OnnxNodeContext, param: Output | None, what: str) -> Output | None:
    """A per-row ([M]) parameter of a matrix product's left side as [M, 1]; a scalar or
    one-element one as it is."""
    if param is None or param.shape is None or len(param.shape) == 0 or param.shape == (1,):
        return param
    if len(param.shape) != 1:
        raise ctx.error(f"its {what} must be a scalar or 1-D, but it has shape "
                        f"{list(param.shape)}")
    return ctx.helper("Unsqueeze", param, ctx.const(np.array([-1], np.int64)), suffix=what)


def per_output_channel(ctx: OnnxNodeContext, param: Output | None, rank: int, axis: int,
                       what: str) -> Output | None:
    """A per-channel ([C]) parameter reshaped to broadcast at `axis` of a tensor of `rank`."""
    if param is None or param.shape is None or len(param.shape) == 0 or param.shape == (1,):
        return param
    if len(param.shape) != 1:
        raise ctx.error(f"its {what} must be a scalar or 1-D, but it has shape "
                        f"{list(param.shape)}")
    return reshape(ctx, param, channel_shape(rank, axis), what)


def optional(ctx: OnnxNodeContext, index: int) -> Output | None:
    return ctx.input(index) if ctx.has_input(index) else None


def integer_matmul(ctx: OnnxNodeContext, a: Output, a_zero: Output | None, b: Output,
                   b_zero: Output | None, final: bool = False) -> Output:
    """(a - a_zero) @ (b - b_zero) in i32; a's zero point is per row, b's per column. A
    `final` product carries the node's own name."""
    left = centered(ctx, a, per_row(ctx, a_zero, "a_zero_point"), "a")
    right = centered(ctx, b, b_zero, "b")
    if final:
        return ctx.op("MatMul", left, right, transpose_a=False, transpose_b=False)
    return ctx.helper("MatMul", left, right, suffix="matmul", transpose_a=False,
                      transpose_b=False)


def integer_conv(ctx: OnnxNodeContext, x: Output, x_zero: Output | None, w: Output,
                 w_zero: Output | None, final: bool = False) -> Output:
    """The convolution of (x - x_zero) with (w - w_zero) in i32, ONNX Conv's attributes; the
    weights' zero point is per output channel. A `final` one carries the node's own name."""
    if w.shape is None or -1 in w.shape:
        raise ctx.error("its weights need a static shape")
    spatial = len(w.shape) - 2
    kernel = ctx.ints("kernel_shape", list(w.shape[2:]))
    if kernel != list(w.shape[2:]):
        raise ctx.error(f"kernel_shape {kernel} disagrees with weights of shape {list(w.shape)}")
    attrs = window_attrs(ctx, spatial)
    attrs["dilations"] = ctx.ints("dilations", [1] * spatial)
    data = centered(ctx, x, x_zero, "x")
    weights = centered(ctx, w, per_output_channel(ctx, w_zero, spatial + 2, 0, "w_zero_point"),
                       "w")
    groups = int(ctx.attr("group", 1))
    if groups != 1:
        weights = group_weights(ctx, weights, groups)
    op = "Convolution" if groups == 1 else "GroupConvolution"
    if final:
        return ctx.op(op, data, weights, **attrs)
    return ctx.helper(op, data, weights, suffix="conv", **attrs)


@registry.register("MatMulInteger", since=10)
def matmul_integer(ctx: OnnxNodeContext) -> Output:
    return integer_matmul(ctx, ctx.input(0), optional(ctx, 2), ctx.input(1), optional(ctx, 3),
                          final=True)


@registry.register("ConvInteger", since=10)
def conv_integer(ctx: OnnxNodeContext) -> Output:
    return integer_conv(ctx, ctx.input(0), optional(ctx, 2), ctx.input(1), optional(ctx, 3),
                        final=True)


def requantized(ctx: OnnxNodeContext, product: Output, multiplier: Output,
                y_zero: Output | None, target: str) -> Output:
    """An i32 product scaled by `multiplier` (a_scale * b_scale / y_scale), requantized."""
    value = ctx.helper("Multiply", converted(ctx, product, "f32", "product/f32"),
                       converted(ctx, multiplier, "f32", "multiplier/f32"), suffix="rescale",
                       auto_broadcast="numpy")
    return round_and_saturate(ctx, value, y_zero, target)


def scale_ratio(ctx: OnnxNodeContext, a_scale: Output, b_scale: Output,
                y_scale: Output) -> Output:
    """a_scale * b_scale / y_scale, in the scales' own type as ONNX's reference computes it."""
    both = ctx.helper("Multiply", a_scale, b_scale, suffix="input_scales", auto_broadcast="numpy")
    return ctx.helper("Divide", both, y_scale, suffix="multiplier", auto_broadcast="numpy",
                      m_pythondiv=True)


@registry.register("QLinearMatMul", since=10)
def qlinear_matmul(ctx: OnnxNodeContext) -> Output:
    a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero = (ctx.input(i) for i in range(8))
    product = integer_matmul(ctx, a, a_zero, b, b_zero)
    multiplier = scale_ratio(ctx, per_row(ctx, a_scale, "a_scale"), b_scale,
                             per_row(ctx, y_scale, "y_scale"))
    return requantized(ctx, product, multiplier, per_row(ctx, y_zero, "y_zero_point"),
                       y_zero.element_type)


@registry.register("QLinearConv", since=10)
def qlinear_conv(ctx: OnnxNodeContext) -> Output:
    x, x_scale, x_zero, w, w_scale, w_zero, y_scale, y_zero = (ctx.input(i) for i in range(8))
    product = integer_conv(ctx, x, x_zero, w, w_zero)
    rank = product.rank if product.rank is not None else len(w.shape)
    if ctx.has_input(8):
        bias = per_output_channel(ctx, ctx.input(8), rank, 1, "bias")
        product = ctx.helper("Add", product, converted(ctx, bias, "i32", "bias/i32"),
                             suffix="bias", auto_broadcast="numpy")
    multiplier = scale_ratio(ctx, x_scale, per_output_channel(ctx, w_scale, rank, 1, "w_scale"),
                             y_scale)
    return requantized(ctx, product, multiplier, y_zero, y_zero.element_type)
