"""Pooling: MaxPool, AveragePool, LpPool, and the global pools as reductions over the spatial
axes.

ONNX's ceil_mode drops a last window that would start in the end padding, as OpenVINO's
`ceil_torch` rounding does. MaxPool's dilations and Indices output are MaxPool-14's own.
OpenVINO's AvgPool has no dilations, and it has no Lp pooling: both are built on the sum of each
window, a GroupConvolution of the data with a kernel of ones (dilated as the pool is, zero
padded), with the output length ONNX computes forced by extra end padding. The average divides
that sum by the number of window elements that count, which depends on the static shapes alone:
a constant computed here (per axis, then multiplied, as the window is a product of 1-D windows).
"""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
from ....graph import Output
from ....ops._shapes import same_pads, window_output
from ...builders.elementwise import binary, unary
from ...builders.reduction import reduce
from ..context import OnnxNodeContext
from . import registry
from ._util import known_rank, window_attrs


def _pool_attrs(ctx: OnnxNodeContext) -> dict:
    """kernel, strides, dilations, pads and rounding of the node, as OpenVINO names them."""
    kernel = ctx.ints("kernel_shape")
    if not kernel:
        raise ctx.error("it has no kernel_shape")
    attrs = window_attrs(ctx, len(kernel))
    attrs["kernel"] = kernel
    attrs["dilations"] = ctx.ints("dilations", [1] * len(kernel))
    attrs["rounding_type"] = "ceil_torch" if ctx.attr("ceil_mode", 0) else "floor"
    return attrs


@registry.register("MaxPool")
def max_pool(ctx: OnnxNodeContext) -> list[Output]:
    """Values, and (when asked) the index of each maximum in the input flattened over N, C and
    the spatial axes, row-major (storage_order 0)."""
    data = ctx.input(0)
    node = ctx.graph.add("MaxPool", [data],
                         {**_pool_attrs(ctx), "index_element_type": "i64", "axis": 0},
                         name=ctx.name, num_outputs=2)
    indices = node.output(1)
    if ctx.num_outputs > 1 and ctx.attr("storage_order", 0):
        indices = _column_major(ctx, indices, data)
    return [node.output(0), indices]


def _column_major(ctx: OnnxNodeContext, indices: Output, data: Output) -> Output:
    """Row-major flat indices into `data` recounted with the spatial axes in column-major
    order (storage_order=1): the spatial offset's coordinates, weighted by the first axis
    varying fastest. Needs the spatial sizes static."""
    g, name = ctx.graph, ctx.name
    sizes = data.shape[2:] if data.shape is not None else [-1]
    if -1 in sizes:
        raise ctx.error("its Indices output in column-major order (storage_order=1) needs "
                        "static spatial dimensions")
    plane = int(np.prod(sizes))
    row_strides = [int(np.prod(sizes[i + 1:])) for i in range(len(sizes))]
    column_strides = [int(np.prod(sizes[:i])) for i in range(len(sizes))]

    def i64(value: int) -> Output:
        return ctx.const(np.array(value, np.int64))

    offset = binary(g, "FloorMod", indices, i64(plane), name=f"{name}/spatial_offset")
    recounted = binary(g, "Subtract", indices, offset, name=f"{name}/plane_start")
    for axis, (size, row, column) in enumerate(zip(sizes, row_strides, column_strides)):
        coordinate = binary(g, "FloorMod", binary(g, "Divide", offset, i64(row),
                                                  name=f"{name}/coordinate_{axis}_rows"),
                            i64(size), name=f"{name}/coordinate_{axis}")
        weighted = binary(g, "Multiply", coordinate, i64(column), name=f"{name}/weighted_{axis}")
        recounted = binary(g, "Add", recounted, weighted, name=f"{name}/indices_{axis}")
    return recounted


def _fits_avg_pool(ctx: OnnxNodeContext, data: Output, attrs: dict, include_pad: bool) -> bool:
    """Whether OpenVINO's AvgPool computes the node: it has no dilations, and with
    count_include_pad and ceil_mode it also counts the part of a last window that lies past
    the end padding, which ONNX leaves out (known only with static spatial dimensions)."""
    if any(d != 1 for d in attrs["dilations"]):
        return False
    if not include_pad or attrs["rounding_type"] == "floor":
        return True
    if data.shape is None or -1 in data.shape[1:]:
        return False  # the window sums then say why they cannot be built
    return not _Window(ctx, data, attrs).crosses_padded_end()


@registry.register("AveragePool")
def average_pool(ctx: OnnxNodeContext) -> Output:
    attrs = _pool_attrs(ctx)
    include_pad = bool(ctx.attr("count_include_pad", 0))
    data = ctx.input(0)
    if _fits_avg_pool(ctx, data, attrs, include_pad):
        del attrs["dilations"]
        attrs["exclude-pad"] = not include_pad
        return ctx.op("AvgPool", data, **attrs)
    window = _Window(ctx, data, attrs)
    total = window.sums(data, f"{ctx.name}/window_sum")
    count = window.counts(include_pad).astype(to_numpy(data.element_type or "f32"))
    return binary(ctx.graph, "Divide", total, ctx.graph.const(count, name=f"{ctx.name}/count"),
                  name=ctx.name)


class _Window:
    """The pooling windows of a node over static spatial axes: their explicit pads, the output
    length ONNX computes, and the GroupConvolution that sums each window."""

    def __init__(self, ctx: OnnxNodeContext, data: Output, attrs: dict):
        self.ctx = ctx
        rank = known_rank(ctx, data)
        if -1 in data.shape[1:]:
            raise ctx.error(f"its input shape {list(data.shape)} has dynamic channels or "
                            f"spatial dimensions, which its decomposition (into window sums) "
                            f"needs static")
        self.channels, self.sizes = data.shape[1], data.shape[2:]
        if len(attrs["kernel"]) != rank - 2:
            raise ctx.error(f"kernel_shape {attrs['kernel']} does not fit input rank {rank}")
        self.kernel, self.strides = attrs["kernel"], attrs["strides"]
        self.dilations = attrs["dilations"]
        ceil = attrs["rounding_type"] != "floor"
        begins, ends = self._explicit_pads(attrs)
        self.pads_begin, self.pads_end = begins, ends
        self.outputs = [window_output(n, k, s, d, b, e, "explicit", ceil)
                        for n, k, s, d, b, e in zip(self.sizes, self.kernel, self.strides,
                                                    self.dilations, begins, ends)]

    def _explicit_pads(self, attrs: dict) -> tuple[list[int], list[int]]:
        """The pads as begin and end lists, auto_pad resolved against the static sizes."""
        auto_pad = attrs["auto_pad"]
        if auto_pad == "valid":
            zeros = [0] * len(self.kernel)
            return zeros, list(zeros)
        if auto_pad in ("same_upper", "same_lower"):
            pads = [same_pads(n, k, s, d, auto_pad == "same_upper")
                    for n, k, s, d in zip(self.sizes, self.kernel, self.strides, self.dilations)]
            return [p[0] for p in pads], [p[1] for p in pads]
        return list(attrs["pads_begin"]), list(attrs["pads_end"])

    def crosses_padded_end(self) -> bool:
        """Whether a last window reaches past the explicitly padded input."""
        return any((o - 1) * s + d * (k - 1) + 1 > n + b + e
                   for n, k, s, d, b, e, o in zip(self.sizes, self.kernel, self.strides,
                                                  self.dilations, self.pads_begin,
                                                  self.pads_end, self.outputs))

    def _forced_end_pads(self) -> list[int]:
        """End pads making a floor-rounded convolution give ONNX's output lengths."""
        return [max(e, (o - 1) * s + d * (k - 1) + 1 - n - b)
                for n, k, s, d, b, e, o in zip(self.sizes, self.kernel, self.strides,
                                               self.dilations, self.pads_begin, self.pads_end,
                                               self.outputs)]

    def sums(self, data: Output, name: str) -> Output:
        """The sum of each window of `data` (zero padded), by an op named `name`."""
        ones = np.ones([self.channels, 1, 1, *self.kernel],
                       dtype=to_numpy(data.element_type or "f32"))
        return self.ctx.graph.op("GroupConvolution", data, self.ctx.const(ones), name=name,
                                 strides=self.strides, dilations=self.dilations,
                                 pads_begin=self.pads_begin, pads_end=self._forced_end_pads(),
                                 auto_pad="explicit")

    def counts(self, include_pad: bool) -> np.ndarray:
        """How many elements of each window count: those inside the input, or with
        `include_pad` those inside the explicitly padded input; [1, 1, *outputs]."""
        total = np.ones([1, 1], dtype=np.float64)
        for n, k, s, d, b, e, o in zip(self.sizes, self.kernel, self.strides, self.dilations,
                                       self.pads_begin, self.pads_end, self.outputs):
            starts = np.arange(o) * s - b  # in input coordinates
            taps = starts[:, None] + np.arange(k)[None, :] * d
            low, high = (-b, n + e) if include_pad else (0, n)
            per_axis = ((taps >= low) & (taps < high)).sum(axis=1)
            total = total[..., None] * per_axis
        return total


@registry.register("LpPool")
def lp_pool(ctx: OnnxNodeContext) -> Output:
    """(sum of |x|^p over each window)^(1/p), padding contributing nothing."""
    p = float(ctx.attr("p", 2))
    if p <= 0:
        raise ctx.error(f"p {p:g} is not positive")
    data = ctx.input(0)
    window = _Window(ctx, data, _pool_attrs(ctx))
    powered = _abs_power(ctx, data, p)
    if p == 1:
        return window.sums(powered, ctx.name)
    return _root(ctx, window.sums(powered, f"{ctx.name}/window_sum"), p, ctx.name)


def _abs_power(ctx: OnnxNodeContext, data: Output, p: float) -> Output:
    g, name = ctx.graph, ctx.name
    if p == 2:
        return binary(g, "Multiply", data, data, name=f"{name}/squared")
    magnitude = unary(g, "Abs", data, name=f"{name}/abs")
    if p == 1:
        return magnitude
    return binary(g, "Power", magnitude, ctx.scalar(p, data), name=f"{name}/powered")


def _root(ctx: OnnxNodeContext, total: Output, p: float, name: str) -> Output:
    """The p-th root of `total` (p > 1), by an op named `name`."""
    if p == 2:
        return unary(ctx.graph, "Sqrt", total, name=name)
    return binary(ctx.graph, "Power", total, ctx.scalar(1 / p, total), name=name)


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


@registry.register("GlobalLpPool")
def global_lp_pool(ctx: OnnxNodeContext) -> Output:
    """(sum of |x|^p over the spatial axes)^(1/p): ReduceL1 or ReduceL2 for p 1 or 2."""
    p = float(ctx.attr("p", 2))
    if p in (1, 2):
        return _global(ctx, f"ReduceL{int(p)}")
    if p <= 0:
        raise ctx.error(f"p {p:g} is not positive")
    data = ctx.input(0)
    axes = ctx.const(np.arange(2, known_rank(ctx, data), dtype=np.int64))
    total = reduce(ctx.graph, "ReduceSum", _abs_power(ctx, data, p), axes, keep_dims=True,
                   name=f"{ctx.name}/sum")
    return _root(ctx, total, p, ctx.name)
