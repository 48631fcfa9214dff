"""Element-wise math: trigonometric and hyperbolic functions, Sign, Round, Reciprocal, Mod, and
the float classifiers IsNaN and IsInf."""
from __future__ import annotations

from ....element_types import is_float
from ....graph import Output
from ...builders.elementwise import binary, select, unary
from ..context import OnnxNodeContext
from . import registry

# ONNX op -> (the OpenVINO op of the same function, the opset ONNX introduced it in)
RENAMED_UNARY = {
    "Sin": ("Sin", 7), "Cos": ("Cos", 7), "Tan": ("Tan", 7),
    "Asin": ("Asin", 7), "Acos": ("Acos", 7), "Atan": ("Atan", 7),
    "Sinh": ("Sinh", 9), "Cosh": ("Cosh", 9),
    "Asinh": ("Asinh", 9), "Acosh": ("Acosh", 9), "Atanh": ("Atanh", 9),
    "Sign": ("Sign", 9),
}


def _renamed_unary(ctx: OnnxNodeContext) -> Output:
    return unary(ctx.graph, RENAMED_UNARY[ctx.op_type][0], ctx.input(0), name=ctx.name)


for _onnx_op, (_, _since) in RENAMED_UNARY.items():
    registry.register(_onnx_op, since=_since)(_renamed_unary)


@registry.register("Round", since=11)
def round_half_to_even(ctx: OnnxNodeContext) -> Output:
    """ONNX rounds halves to the even neighbour (2.5 -> 2), as Round's half_to_even mode."""
    return ctx.op("Round", ctx.input(0), mode="half_to_even")


@registry.register("Reciprocal")
def reciprocal(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    return binary(ctx.graph, "Divide", ctx.scalar(1, data), data, name=ctx.name)


def _floored_float_mod(ctx: OnnxNodeContext, a: Output, b: Output) -> Output:
    """Floored remainder of floats, which ONNX allows from opset 28 on. a - floor(a / b) * b is
    NaN for an infinite divisor, where ONNX wants a finite `a` itself when the signs agree (or
    `a` is 0) and `b` otherwise; FloorMod is kept everywhere else."""
    g, name = ctx.graph, ctx.name
    floored = binary(g, "FloorMod", a, b, name=f"{name}/floor_mod")
    signs = binary(g, "Multiply", unary(g, "Sign", a, name=f"{name}/sign_a"),
                   unary(g, "Sign", b, name=f"{name}/sign_b"), name=f"{name}/signs")
    opposite = binary(g, "Less", signs, ctx.scalar(0, signs), name=f"{name}/opposite_signs")
    by_infinity = select(g, opposite, b, a, name=f"{name}/by_infinity")
    finite_a = unary(g, "LogicalNot", ctx.helper("IsInf", a, suffix="a_infinite"),
                     name=f"{name}/a_finite")
    infinite_divisor = binary(g, "LogicalAnd", ctx.helper("IsInf", b, suffix="b_infinite"),
                              finite_a, name=f"{name}/infinite_divisor")
    return select(g, infinite_divisor, by_infinity, floored, name=name)


@registry.register("Mod", since=10)
def mod(ctx: OnnxNodeContext) -> Output:
    """fmod=0 takes the divisor's sign (floored division, Python's %): FloorMod; fmod=1 takes
    the dividend's (truncated division, C's fmod): Mod."""
    fmod = int(ctx.attr("fmod", 0))
    if fmod not in (0, 1):
        raise ctx.error(f"fmod {fmod} is neither 0 nor 1")
    a, b = ctx.input(0), ctx.input(1)
    if fmod:
        return binary(ctx.graph, "Mod", a, b, name=ctx.name)
    if is_float(a.element_type or "i64"):
        return _floored_float_mod(ctx, a, b)
    return binary(ctx.graph, "FloorMod", a, b, name=ctx.name)


@registry.register("IsNaN", since=9)
def is_nan(ctx: OnnxNodeContext) -> Output:
    return ctx.op("IsNaN", ctx.input(0))


@registry.register("IsInf", since=10)
def is_inf(ctx: OnnxNodeContext) -> Output:
    return ctx.op("IsInf", ctx.input(0),
                  detect_negative=bool(ctx.attr("detect_negative", 1)),
                  detect_positive=bool(ctx.attr("detect_positive", 1)))
