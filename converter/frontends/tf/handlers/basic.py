"""Inputs, constants, pass-throughs and type conversion."""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
from ..context import TFNodeContext
from . import registry


@registry.register("Placeholder")
def placeholder(ctx: TFNodeContext):
    return model_input(ctx)


@registry.register("PlaceholderWithDefault")
def placeholder_with_default(ctx: TFNodeContext):
    """The default value, unless `--input` makes the node an input of the model."""
    if ctx.model_input is None:
        return ctx.input(0)
    return model_input(ctx)


def model_input(ctx: TFNodeContext, type_attr: str | None = "dtype"):
    """A model input (or, with `--input name->[values]`, a constant) of the node's type (f32
    when the node has no type attribute) and the shape `--input`/`--input_shape` settled."""
    shape, frozen_value = ctx.model_input
    element_type = ctx.element_type(type_attr) if type_attr else "f32"
    if frozen_value is not None:  # `--input name->[values]` freezes the input to a constant
        value = np.asarray(frozen_value, dtype=to_numpy(element_type))
        return ctx.graph.const(value.reshape(shape) if shape else value, name=ctx.name)
    output = ctx.graph.parameter(ctx.name, shape, element_type)
    output.info.names.add(f"{ctx.name}:0")
    return output


@registry.register("Const")
def const(ctx: TFNodeContext):
    return ctx.graph.const(ctx.attr("value"), name=ctx.name)


@registry.register("Identity", "StopGradient", "PreventGradient", "Snapshot", "CheckNumerics",
                   "EnsureShape")
def identity(ctx: TFNodeContext):
    """Ops that only pass their input on at inference: dropped from the IR."""
    return ctx.input(0)


@registry.register("IdentityN")
def identity_n(ctx: TFNodeContext):
    return list(ctx.inputs)


@registry.register("Cast")
def cast(ctx: TFNodeContext):
    return ctx.op("Convert", ctx.input(0), destination_type=ctx.element_type("DstT"))


@registry.register("Shape")
def shape(ctx: TFNodeContext):
    return ctx.op("ShapeOf", ctx.input(0), output_type=ctx.element_type("out_type"))
