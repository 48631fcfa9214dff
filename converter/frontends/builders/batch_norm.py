"""Inference batch normalization as a per-channel scale and shift.

    y = (x - mean) / sqrt(var + eps) * gamma + beta = x * factor + shift,
    factor = gamma / sqrt(var + eps),  shift = beta - mean * factor

factor and shift are computed by ops on the statistics rather than in numpy, so that constant
folding turns them into two constants and the Multiply/Add fusion can take them into a
preceding convolution; with statistics that are model inputs the same ops still compute them.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ...element_types import to_numpy
from ...errors import InternalError
from ...graph import Graph, Output
from .elementwise import binary
from .per_channel import reshape_to_channel_axis

ToChannels = Callable[[Graph, Output, "int | None", int, str, str], Output]


# The suffix of each helper op, named `<name>/<suffix>` (the final Add takes `name` itself), in
# the order they are built: factor = gamma / sqrt(var + eps); shift = beta - mean * factor; both
# converted to the data's type when the statistics' differs, shaped to broadcast over the data
# by the per-channel builder (whose constant is `channel_helper`); scaled = data * factor.
DEFAULT_STEPS = {
    "epsilon": "epsilon", "var_eps": "var_eps", "std": "std", "factor": "factor",
    "scaled_mean": "scaled_mean", "shift": "shift",
    "factor_type": "factor_type", "shift_type": "shift_type",
    "channel_helper": "const", "factor_channels": "factor_shape", "shift_channels": "shift_shape",
    "scaled": "scale",
}


def step_names(name: str, renamed: Mapping[str, str]) -> dict[str, str]:
    """The full name of each helper op; `renamed` overrides suffixes of DEFAULT_STEPS, so that a
    frontend keeps the layer names its IRs have always had."""
    unknown = set(renamed) - set(DEFAULT_STEPS)
    if unknown:
        raise InternalError(f"batch norm has no step {', '.join(sorted(unknown))}")
    return {step: f"{name}/{suffix}" for step, suffix in {**DEFAULT_STEPS, **renamed}.items()}


def batch_norm_inference(graph: Graph, data: Output, gamma: Output, beta: Output, mean: Output,
                         variance: Output, *, epsilon: float, channel_axis: int, name: str,
                         renamed: Mapping[str, str] | None = None,
                         to_channels: ToChannels = reshape_to_channel_axis) -> Output:
    """`data` normalized with per-channel [C] statistics along `channel_axis` (1 for NCHW,
    -1 for NHWC). `to_channels` (a `per_channel` builder) shapes the [C] factor and shift to
    broadcast over `data`. When the statistics' element type differs from the data's (f16
    data with f32 statistics), factor and shift are converted to the data's type."""
    names = step_names(name, renamed or {})
    eps = graph.const(np.asarray(epsilon, dtype=to_numpy(variance.element_type or "f32")),
                      name=names["epsilon"])
    std = graph.op("Sqrt", binary(graph, "Add", variance, eps, names["var_eps"]),
                   name=names["std"])
    factor = binary(graph, "Divide", gamma, std, names["factor"])
    scaled_mean = binary(graph, "Multiply", mean, factor, names["scaled_mean"])
    shift = binary(graph, "Subtract", beta, scaled_mean, names["shift"])
    if factor.element_type != data.element_type:
        factor = graph.op("Convert", factor, destination_type=data.element_type,
                          name=names["factor_type"])
        shift = graph.op("Convert", shift, destination_type=data.element_type,
                         name=names["shift_type"])
    factor = to_channels(graph, factor, data.rank, channel_axis, names["factor_channels"],
                         names["channel_helper"])
    scaled = binary(graph, "Multiply", data, factor, names["scaled"])
    shift = to_channels(graph, shift, data.rank, channel_axis, names["shift_channels"],
                        names["channel_helper"])
    return binary(graph, "Add", scaled, shift, name)
