"""Optionals: Optional, OptionalHasElement, OptionalGetElement.

OpenVINO IR has no optional type: an optional lives in the frontend as an `OptionalValue` (a
tensor or sequence, or nothing), so whether it holds an element is known at conversion time
and OptionalHasElement is a constant. From opset 18 these ops also take a plain tensor or
sequence, which always holds its element.
"""
from __future__ import annotations

import numpy as np

from ..subgraphs import ControlFlowContext
from ..values import OptionalValue, Value
from . import registry


@registry.register("Optional")
def optional(ctx: ControlFlowContext) -> OptionalValue:
    return OptionalValue(ctx.input(0) if ctx.has_input(0) else None)


@registry.register("OptionalHasElement")
def optional_has_element(ctx: ControlFlowContext):
    if not ctx.has_input(0):  # no input: an empty optional
        present = False
    else:
        value = ctx.input(0)
        present = not isinstance(value, OptionalValue) or value.value is not None
    return ctx.const(np.array(present))


@registry.register("OptionalGetElement")
def optional_get_element(ctx: ControlFlowContext) -> Value:
    value = ctx.input(0)
    if not isinstance(value, OptionalValue):
        return value
    if value.value is None:
        raise ctx.error("reads the element of an optional that is empty")
    return value.value
