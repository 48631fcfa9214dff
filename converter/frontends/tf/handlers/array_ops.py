"""Ops that pick, cut, repeat, generate or rank tensors: the array ops of TF1 zoo graphs
(GatherV2, Split, Slice, Tile, Fill, Select, ArgMax, TopKV2, Unpack, OneHot, Range, ...)."""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
from ....graph import Output
from ....ops._shapes import normalize_axis
from ....ops.attention import implicit_output
from ...builders.elementwise import binary, select
from ..context import TFNodeContext
from . import registry

_INT64_MAX = np.iinfo(np.int64).max


def _outputs(ctx: TFNodeContext, op: str, inputs: list[Output], count: int,
             **attrs) -> list[Output]:
    """Every output of a multi-output OpenVINO op named after the node."""
    node = ctx.graph.add(op, inputs, attrs, name=ctx.name, num_outputs=count)
    return [node.output(i) for i in range(count)]


def _axis(ctx: TFNodeContext, axis: int, rank: int | None, what: str = "data") -> int:
    """`axis` counted from 0; a negative one needs the rank."""
    if rank is not None:
        return normalize_axis(int(axis), rank)
    if axis < 0:
        raise ctx.error(f"a negative axis needs {what} of known rank")
    return int(axis)


# -- gathering ----------------------------------------------------------------------------------

@registry.register("GatherV2")
def gather_v2(ctx: TFNodeContext):
    """params, indices, axis; `batch_dims` leading axes of indices index alongside params."""
    return ctx.op("Gather", ctx.input(0), ctx.input(1), ctx.index_input(2),
                  batch_dims=int(ctx.attr("batch_dims", 0)))


@registry.register("Gather")
def gather(ctx: TFNodeContext):
    """The first version: along axis 0."""
    return ctx.op("Gather", ctx.input(0), ctx.input(1), ctx.ints(0), batch_dims=0)


# -- cutting ------------------------------------------------------------------------------------

@registry.register("Split")
def split(ctx: TFNodeContext):
    """Inputs are the axis, then the value; `num_split` equal parts."""
    count = int(ctx.attr("num_split"))
    return _outputs(ctx, "Split", [ctx.input(1), ctx.index_input(0)], count, num_splits=count)


@registry.register("SplitV")
def split_v(ctx: TFNodeContext):
    """The value, the part lengths (one may be -1: the rest), the axis."""
    count = int(ctx.attr("num_split"))
    return _outputs(ctx, "VariadicSplit", [ctx.input(0), ctx.index_input(2), ctx.index_input(1)],
                    count)


@registry.register("Unpack")
def unpack(ctx: TFNodeContext):
    """`num` tensors, each one entry along `axis` with that axis removed."""
    count = int(ctx.attr("num"))
    data = ctx.input(0)
    axis = _axis(ctx, ctx.attr("axis", 0), data.rank)
    node = ctx.graph.add("Split", [data, ctx.ints(axis)], {"num_splits": count},
                         name=f"{ctx.name}/Split", num_outputs=count)
    return [ctx.graph.op("Squeeze", node.output(i), ctx.ints([axis]),
                         name=ctx.name if i == 0 else f"{ctx.name}/{i}") for i in range(count)]


@registry.register("Slice")
def slice_(ctx: TFNodeContext):
    """input, begin, size: size -1 takes the rest of an axis."""
    count = ctx.input(1).shape[0] if ctx.input(1).shape else None
    if count is None or count == -1:
        raise ctx.error("the length of begin must be known")
    begin, size = ctx.const_value(1), ctx.const_value(2)
    if begin is not None and size is not None:
        begin, size = (np.asarray(v, dtype=np.int64).reshape(-1) for v in (begin, size))
        stop = np.where(size == -1, _INT64_MAX, begin + size)
        start_input, stop_input = ctx.ints(begin), ctx.ints(stop)
    else:
        start_input = ctx.helper("Convert", ctx.input(1), suffix="begin", destination_type="i64")
        length = ctx.helper("Convert", ctx.input(2), suffix="size", destination_type="i64")
        end = binary(ctx.graph, "Add", start_input, length, f"{ctx.name}/end")
        rest = binary(ctx.graph, "Equal", length, ctx.ints(-1), f"{ctx.name}/to_end")
        stop_input = select(ctx.graph, rest, ctx.ints(_INT64_MAX), end, f"{ctx.name}/stop")
    return ctx.op("Slice", ctx.input(0), start_input, stop_input, ctx.ints([1] * count))


# -- repeating and generating -------------------------------------------------------------------

@registry.register("Tile")
def tile(ctx: TFNodeContext):
    return ctx.op("Tile", ctx.input(0), ctx.index_input(1))


@registry.register("Fill")
def fill(ctx: TFNodeContext):
    """dims, value: the scalar value broadcast to the shape `dims`."""
    return ctx.op("Broadcast", ctx.input(1), ctx.index_input(0), mode="numpy")


def _filled_like(ctx: TFNodeContext, value: float):
    """A tensor of `value` with the shape and type of input 0: a constant when the shape is
    static, else the scalar broadcast to the input's run-time shape."""
    data = ctx.input(0)
    dtype = to_numpy(data.element_type)
    if data.shape is not None and -1 not in data.shape:
        return ctx.graph.const(np.full(data.shape, value, dtype=dtype), name=ctx.name)
    shape = ctx.helper("ShapeOf", data, output_type="i64")
    return ctx.op("Broadcast", ctx.const(np.asarray(value, dtype=dtype)), shape, mode="numpy")


@registry.register("ZerosLike")
def zeros_like(ctx: TFNodeContext):
    return _filled_like(ctx, 0)


@registry.register("OnesLike")
def ones_like(ctx: TFNodeContext):
    return _filled_like(ctx, 1)


@registry.register("Range")
def range_(ctx: TFNodeContext):
    """start, limit, delta (scalars) -> [start, limit) by delta, of type `Tidx`."""
    return ctx.op("Range", ctx.input(0), ctx.input(1), ctx.input(2),
                  output_type=ctx.element_type("Tidx"))


@registry.register("OneHot")
def one_hot(ctx: TFNodeContext):
    """indices, depth, on_value, off_value; the new axis at `axis` (-1: last)."""
    return ctx.op("OneHot", ctx.input(0), ctx.index_input(1), ctx.input(2), ctx.input(3),
                  axis=int(ctx.attr("axis", -1)))


# -- choosing and bounding ----------------------------------------------------------------------

@registry.register("SelectV2")
def select_v2(ctx: TFNodeContext):
    """All three inputs broadcast numpy-style."""
    return select(ctx.graph, ctx.input(0), ctx.input(1), ctx.input(2), ctx.name)


@registry.register("Select")
def select_v1(ctx: TFNodeContext):
    """The first version: a vector condition picks whole rows (entries along axis 0) of
    higher-rank branches, so it gets trailing axes before numpy broadcasting."""
    condition, then = ctx.input(0), ctx.input(1)
    if condition.rank == 1 and then.rank is not None and then.rank > 1:
        axes = ctx.ints(list(range(1, then.rank)))
        condition = ctx.graph.op("Unsqueeze", condition, axes, name=f"{ctx.name}/rows")
    elif condition.rank is None or (then.rank is None and condition.rank == 1):
        raise ctx.error("the ranks of the condition and the branches must be known")
    return select(ctx.graph, condition, then, ctx.input(2), ctx.name)


@registry.register("ClipByValue")
def clip_by_value(ctx: TFNodeContext):
    """Clamp for float data and scalar constant bounds; else Maximum then Minimum."""
    low, high = ctx.const_value(1), ctx.const_value(2)
    data = ctx.input(0)
    if (low is not None and high is not None and low.size == 1 and high.size == 1
            and data.element_type in ("f32", "f16", "f64")):
        return ctx.op("Clamp", data, min=float(low.reshape(())), max=float(high.reshape(())))
    floor = binary(ctx.graph, "Maximum", data, ctx.input(1), f"{ctx.name}/Maximum")
    return binary(ctx.graph, "Minimum", floor, ctx.input(2), ctx.name)


@registry.register("MatrixBandPart")
def matrix_band_part(ctx: TFNodeContext):
    """input, num_lower, num_upper: entry [..., m, n] is kept where (num_lower < 0 or
    m - n <= num_lower) and (num_upper < 0 or n - m <= num_upper), else it is zero. The band
    of the last two axes is built from two Ranges (a constant when the shape and bounds are
    known, so constant folding leaves one mask) and broadcast over the batch axes; the bounds
    may be run-time inputs, -1 keeping every diagonal on that side."""
    data = ctx.input(0)
    if data.rank is not None and data.rank < 2:
        raise ctx.error(f"its input must have rank 2 or more, not {data.rank}")
    rows, columns = (_matrix_axis_range(ctx, data, axis) for axis in (-2, -1))
    rows = ctx.graph.op("Unsqueeze", rows, ctx.ints([1]), name=f"{ctx.name}/rows")
    offset = binary(ctx.graph, "Subtract", rows, columns, f"{ctx.name}/offset")  # m - n
    above = ctx.graph.op("Negative", offset, name=f"{ctx.name}/offset_above")  # n - m
    band = [_within_bound(ctx, distance, index, side) for distance, index, side
            in ((offset, 1, "lower"), (above, 2, "upper"))]
    band = [mask for mask in band if mask is not None]
    if not band:  # both bounds constant and negative: every entry is kept
        return data
    mask = band[0] if len(band) == 1 else binary(ctx.graph, "LogicalAnd", *band,
                                                 f"{ctx.name}/band")
    zero = ctx.const(np.zeros((), dtype=to_numpy(data.element_type)))
    return select(ctx.graph, mask, data, zero, ctx.name)


def _matrix_axis_range(ctx: TFNodeContext, data: Output, axis: int) -> Output:
    """0, 1, ... along one of the last two axes of `data` (its length static or run-time)."""
    length = data.shape[axis] if data.shape is not None else -1
    if length == -1:
        if data.rank is None:
            raise ctx.error("its input's rank must be known")
        shape = ctx.helper("ShapeOf", data, suffix=f"shape{axis}", output_type="i64")
        length = ctx.graph.op("Gather", shape, ctx.ints(data.rank + axis), ctx.ints(0),
                              name=f"{ctx.name}/length{axis}", batch_dims=0)
    else:
        length = ctx.ints(length)
    return ctx.graph.op("Range", ctx.ints(0), length, ctx.ints(1),
                        name=f"{ctx.name}/range{axis}", output_type="i64")


def _within_bound(ctx: TFNodeContext, distance: Output, index: int, side: str) -> Output | None:
    """Where `distance` (from the diagonal, on one side) is at most the bound input `index`,
    or everywhere when that bound is negative; None when a constant bound keeps every entry."""
    value = ctx.const_value(index)
    if value is not None:
        bound = int(np.ravel(value)[0])
        if bound < 0:
            return None
        return binary(ctx.graph, "LessEqual", distance, ctx.ints(bound), f"{ctx.name}/{side}")
    bound = ctx.helper("Convert", ctx.input(index), suffix=f"num_{side}", destination_type="i64")
    near = binary(ctx.graph, "LessEqual", distance, bound, f"{ctx.name}/{side}_near")
    keep_all = binary(ctx.graph, "Less", bound, ctx.ints(0), f"{ctx.name}/{side}_all")
    return binary(ctx.graph, "LogicalOr", near, keep_all, f"{ctx.name}/{side}")


# -- ranking ------------------------------------------------------------------------------------

def _top_k(ctx: TFNodeContext, data: Output, k: Output, axis: int, mode: str, index_type: str,
           name: str) -> list[Output]:
    """TopK with TensorFlow's tie-break (the lower index first) and results sorted by value."""
    node = ctx.graph.add("TopK", [data, k], {"axis": axis, "mode": mode, "sort": "value",
                                             "index_element_type": index_type, "stable": True},
                         name=name, num_outputs=2)
    return [node.output(0), node.output(1)]


@registry.register("TopKV2", "TopK")
def top_k(ctx: TFNodeContext):
    """The k largest values along the last axis and their indices (int32)."""
    k = ctx.ints(int(ctx.attr("k"))) if ctx.op_type == "TopK" else ctx.index_input(1)
    if k.rank == 1:
        k = ctx.graph.op("Squeeze", k, name=f"{ctx.name}/k")
    index_type = ctx.element_type("index_type") if ctx.attr("index_type") else "i32"
    return _top_k(ctx, ctx.input(0), k, -1, "max", index_type, ctx.name)


@registry.register("ArgMax", "ArgMin")
def arg_max(ctx: TFNodeContext):
    """TopK of 1 along the axis, that axis squeezed away."""
    data = ctx.input(0)
    axis = _axis(ctx, int(np.ravel(ctx.required_value(1, "axis"))[0]), data.rank)
    mode = "max" if ctx.op_type == "ArgMax" else "min"
    _, indices = _top_k(ctx, data, ctx.ints(1), axis, mode, ctx.element_type("output_type"),
                        f"{ctx.name}/TopK")
    return ctx.op("Squeeze", indices, ctx.ints([axis]))


@registry.register("Cumsum")
def cumsum(ctx: TFNodeContext):
    return ctx.op("CumSum", ctx.input(0), ctx.index_input(1),
                  exclusive=bool(ctx.attr("exclusive", False)),
                  reverse=bool(ctx.attr("reverse", False)))


@registry.register("Einsum")
def einsum(ctx: TFNodeContext):
    """The equation as given; one without `->` gets numpy's implicit output term."""
    equation = ctx.attr("equation").replace(" ", "")
    if "->" not in equation:
        equation = f"{equation}->{implicit_output(equation)}"
    return ctx.op("Einsum", *ctx.inputs, equation=equation)
