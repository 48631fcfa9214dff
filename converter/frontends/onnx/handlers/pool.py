"""MaxPool, AveragePool, and the global pools as reductions over the spatial axes."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ...builders.reduction import reduce
from ..context import OnnxNodeContext
from . import registry
from ._util import known_rank, window_attrs


def _pool_attrs(ctx: OnnxNodeContext) -> dict:
    kernel = ctx.ints("kernel_shape")
    if not kernel:
        raise ctx.error("it has no kernel_shape")
    dilations = ctx.ints("dilations", [1] * len(kernel))
    if any(d != 1 for d in dilations):
        raise ctx.error(f"dilations {dilations} are not supported in pooling (only 1)")
    attrs = window_attrs(ctx, len(kernel))
    attrs["kernel"] = kernel
    attrs["rounding_type"] = "ceil" if ctx.attr("ceil_mode", 0) else "floor"
    return attrs


@registry.register("MaxPool")
def max_pool(ctx: OnnxNodeContext) -> Output:
    if ctx.num_outputs > 1:
        raise ctx.error("its Indices output is not supported")
    if ctx.attr("storage_order", 0):
        raise ctx.error("storage_order=1 is not supported")
    return ctx.op("MaxPool", ctx.input(0), **_pool_attrs(ctx))


@registry.register("AveragePool")
def average_pool(ctx: OnnxNodeContext) -> Output:
    attrs = _pool_attrs(ctx)
    attrs["exclude-pad"] = not ctx.attr("count_include_pad", 0)
    return ctx.op("AvgPool", ctx.input(0), **attrs)


def _global(ctx: OnnxNodeContext, reduction: str) -> Output:
    data = ctx.input(0)
    axes = ctx.const(np.arange(2, known_rank(ctx, data), dtype=np.int64))
    return reduce(ctx.graph, reduction, data, axes, keep_dims=True, name=ctx.name)


@registry.register("GlobalAveragePool")
def global_average_pool(ctx: OnnxNodeContext) -> Output:
    return _global(ctx, "ReduceMean")


@registry.register("GlobalMaxPool")
def global_max_pool(ctx: OnnxNodeContext) -> Output:
    return _global(ctx, "ReduceMax")
