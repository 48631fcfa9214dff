"""Bake the Model Optimizer's input preprocessing into the graph, right after each input.

Before: Parameter(x) -> model
After:  Parameter(x) -> Gather(channels [2,1,0]) -> Subtract(mean) -> Multiply(1/scale) -> model

so that IR(x) == model((reverse(x) - mean) / scale). `mean_values` and `scale_values` are in
the original model's channel order (--reverse_input_channels flips the channels first, as mo
does); `--scale` divides every input that has no `scale_values`. The channel axis is 1 for an
NCHW source and the last axis for an NHWC one; reversing applies only to 3-channel inputs.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserInputError
from ..element_types import is_float, to_numpy
from ..frontends.builders.per_channel import channel_shape
from ..graph import Graph, Node, Output
from ..options import ConversionOptions


def run(graph: Graph, options: ConversionOptions) -> int:
    changed = 0
    for index, parameter in enumerate(graph.parameters):
        steps = input_steps(graph, parameter, index, options)
        if not steps:
            continue
        uses = graph.uses(parameter.output())
        current = parameter.output()
        for step in steps:
            current = step(graph, current)
        graph.reconnect(uses, current)
        changed += 1
    return changed


def input_plan(options: ConversionOptions, name: str, index: int, shape, nhwc: bool) -> dict | None:
    """What preprocessing input `name` (the `index`-th) of this `shape` gets, or None:
    {"mean", "scale", "reverse", "channel_axis"}. The verifier reads the same plan to feed the
    source model what the IR's preprocessing computes."""
    mean = options.per_input("mean_values", name, index)
    scale = options.per_input("scale_values", name, index)
    if scale is None and options.scale is not None:
        scale = (options.scale,)
    rank = len(shape or ())
    axis = rank - 1 if nhwc else min(1, rank - 1)
    reverse = options.reverse_input_channels and rank > 0 and shape[axis] == 3
    if mean is None and scale is None and not reverse:
        return None
    return {"mean": mean, "scale": scale, "reverse": reverse, "channel_axis": axis}


def input_steps(graph: Graph, parameter: Node, index: int, options: ConversionOptions) -> list:
    """The preprocessing steps for one input, in the order they apply."""
    name = next(iter(sorted(parameter.outputs[0].names)), parameter.name)
    info = parameter.outputs[0]
    plan = input_plan(options, name, index, info.shape, graph.source_layout == "NHWC")
    if plan is None:
        return []
    mean, scale, axis = plan["mean"], plan["scale"], plan["channel_axis"]
    rank = len(info.shape or ())
    channels = info.shape[axis] if rank else None
    if (mean or scale) and not is_float(info.element_type or ""):
        raise UserInputError(f"mean/scale values need a floating-point input, but input {name!r} "
                             f"is {info.element_type}")
    for flag, values in (("mean_values", mean), ("scale_values", scale)):
        if values and len(values) > 1 and channels not in (len(values), -1):
            raise UserInputError(f"{flag} gives {len(values)} values for input {name!r}, whose "
                                 f"channel axis {axis} has {channels} channels")
    steps = []
    if plan["reverse"]:
        steps.append(lambda g, x: _reverse(g, x, axis, name))
    if mean:
        steps.append(lambda g, x: g.op("Subtract", x, _per_channel(g, mean, rank, axis, x, f"{name}/mean_values"),
                                       name=f"{name}/mean", auto_broadcast="numpy"))
    if scale:
        inverse = tuple(1.0 / v for v in scale)
        steps.append(lambda g, x: g.op("Multiply", x, _per_channel(g, inverse, rank, axis, x, f"{name}/scale_values"),
                                       name=f"{name}/scale", auto_broadcast="numpy"))
    return steps


def _per_channel(graph: Graph, values: tuple[float, ...], rank: int, axis: int, like: Output, name: str) -> Output:
    """The values as a constant of `like`'s type that broadcasts along `axis` (one value: all
    ones, so that it applies to every channel)."""
    array = np.array(values, dtype=to_numpy(like.element_type))
    return graph.const(array.reshape(channel_shape(rank, axis, len(values))), name=name)


def _reverse(graph: Graph, x: Output, axis: int, name: str) -> Output:
    return graph.op("Gather", x, graph.const(np.array([2, 1, 0], dtype=np.int64), name=f"{name}/channel_order"),
                    graph.const(np.array(axis, dtype=np.int64), name=f"{name}/channel_axis"),
                    name=f"{name}/reverse_input_channels", batch_dims=0)
