"""Element type conversions: Cast, CastLike and BitCast.

Cast and CastLike become OpenVINO's Convert. Three ONNX readings need more than that:
- `saturate` (opset 19+, on by default): a float converted to a float8 type clamps to the
  type's finite range instead of overflowing to infinity or NaN, as OpenVINO's Convert does;
  a Clamp to that range before the Convert gives ONNX's result (NaN stays NaN).
- Cast to FLOAT8E8M0 rounds up by default (`round_mode`, opset 24), which Convert does not:
  refused with a clear error.
- FLOAT4E2M1 has no NaN: ONNX's reference casts NaN to -0, OpenVINO to 6; a Select says -0.
BitCast reinterprets the bits of each element as another type of the same width; OpenVINO has
no such op, so only a constant input can be converted (folded with numpy).
"""
from __future__ import annotations

import numpy as np
import onnx

from ....element_types import float_range, from_numpy, is_float, to_numpy
from ....graph import Output
from ..context import OnnxNodeContext
from ..model import element_type
from . import registry

SATURATING = ("f8e4m3", "f8e5m2")  # the float8 types ONNX's `saturate` applies to


def cast_target(ctx: OnnxNodeContext) -> str:
    """The IR element type of the `to` attribute: a TensorProto type number, or before opset
    6 its name ("FLOAT")."""
    to = ctx.attr("to")
    if to is None:
        raise ctx.error("lacks its 'to' attribute")
    if isinstance(to, str):
        if to.upper() not in onnx.TensorProto.DataType.keys():
            raise ctx.error(f"'to' names {to!r}, which is not an ONNX element type")
        to = onnx.TensorProto.DataType.Value(to.upper())
    return element_type(int(to), f"{ctx.op_type} node {ctx.name!r}'s target")


def convert(ctx: OnnxNodeContext, data: Output, target: str) -> Output:
    """`data` converted to `target` as ONNX's Cast reads it at the node's opset."""
    if target == "f8e8m0" and data.element_type != "f8e8m0":
        raise ctx.error(f"casting to FLOAT8E8M0 rounds by round_mode "
                        f"{ctx.attr('round_mode', 'up')!r}, which OpenVINO's Convert does not "
                        f"do; it cannot be converted")
    saturate = ctx.opset < 19 or bool(ctx.attr("saturate", 1))
    if saturate and target in SATURATING and is_float(data.element_type or "f32") \
            and data.element_type != target:
        data = saturated(ctx, data, target)
    if target == "f4e2m1" and is_float(data.element_type or "f32") and data.element_type != target:
        data = nan_as_negative_zero(ctx, data)
    return ctx.op("Convert", data, destination_type=target)


def nan_as_negative_zero(ctx: OnnxNodeContext, data: Output) -> Output:
    """FLOAT4E2M1 has no NaN: ONNX's reference gives -0 where OpenVINO's Convert gives 6."""
    is_nan = ctx.helper("IsNaN", data, suffix="nan_to_zero/is_nan")
    return ctx.helper("Select", is_nan, ctx.scalar(-0.0, data), data, suffix="nan_to_zero",
                      auto_broadcast="numpy")


def saturated(ctx: OnnxNodeContext, data: Output, target: str) -> Output:
    """`data` clamped to the finite range of `target`, NaN kept (the CPU plugin's Clamp turns
    NaN into the lower bound)."""
    low, high = float_range(target)
    clamped = ctx.helper("Clamp", data, suffix="saturate", min=low, max=high)
    is_nan = ctx.helper("IsNaN", data, suffix="saturate/is_nan")
    return ctx.helper("Select", is_nan, data, clamped, suffix="saturate/keep_nan",
                      auto_broadcast="numpy")


@registry.register("Cast")
def cast(ctx: OnnxNodeContext) -> Output:
    return convert(ctx, ctx.input(0), cast_target(ctx))


@registry.register("CastLike", since=15)
def cast_like(ctx: OnnxNodeContext) -> Output:
    """Cast to the element type of input 1, whose values are not read."""
    like = ctx.input(1)
    if like.element_type is None:
        raise ctx.error("the element type of its input 1 ('target_type') is unknown")
    return convert(ctx, ctx.input(0), like.element_type)


@registry.register("BitCast", since=26)
def bit_cast(ctx: OnnxNodeContext) -> Output:
    """The input's bytes read as the `to` type: folded when the input is constant."""
    target = cast_target(ctx)
    value = ctx.const_value(0)
    if value is None:
        raise ctx.error("OpenVINO has no op that reinterprets bits as another type; only a "
                        "constant input can be converted (it is folded)")
    source = np.ascontiguousarray(value)
    dtype = to_numpy(target)
    if source.dtype.itemsize != dtype.itemsize:
        raise ctx.error(f"cannot reinterpret {from_numpy(source.dtype)} as {target}: their "
                        f"widths differ")
    return ctx.graph.const(source.view(dtype), name=ctx.name)
