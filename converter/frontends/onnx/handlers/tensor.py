"""Ops that select, create or convert tensors: Identity, Dropout, Constant,
ConstantOfShape, Gather, Slice, Split, Pad, Range."""
from __future__ import annotations

import numpy as np
import onnx

from ....graph import Output
from ..context import OnnxNodeContext
from ..model import tensor_value
from . import registry
from ._runtime_shapes import as_i64, i64_const, shape_of, spread_over_axes
from ._util import i64 as _i64, known_rank


@registry.register("Identity")
def identity(ctx: OnnxNodeContext) -> Output:
    return ctx.input(0)


def _dropout_outputs(ctx: OnnxNodeContext) -> list[Output]:
    """The data unchanged, and when the node reads it the mask: all true, shaped as the data."""
    data = ctx.input(0)
    if ctx.num_outputs < 2:
        return [data]
    every = ctx.const(np.array(True))
    return [data, ctx.helper("Broadcast", every, shape_of(ctx, data, "mask_shape"),
                             suffix="mask", mode="numpy")]


@registry.register("Dropout")
def dropout_attribute(ctx: OnnxNodeContext) -> list[Output]:
    """Opset < 12: inference drops nothing (is_test and ratio only matter in training)."""
    return _dropout_outputs(ctx)


@registry.register("Dropout", since=12)
def dropout(ctx: OnnxNodeContext) -> list[Output]:
    """Inference, or training with ratio 0, drops nothing. Training with a ratio above 0
    draws a random mask, which a converted model cannot reproduce: an error when both are
    known now (a run-time training_mode is read as inference)."""
    training = ctx.const_value(2)
    if training is not None and bool(np.ravel(training)[0]):
        ratio = ctx.const_value(1) if ctx.has_input(1) else np.array(0.5)
        if ratio is None or float(np.ravel(ratio)[0]) != 0.0:
            shown = "unknown now" if ratio is None else f"{float(np.ravel(ratio)[0]):g}"
            raise ctx.error(f"training_mode=true with ratio {shown} drops random elements, "
                            f"which the converted model cannot reproduce; export the model for "
                            f"inference")
    return _dropout_outputs(ctx)


_CONSTANT_ATTRS = {"value": None, "value_float": np.float32, "value_floats": np.float32,
                   "value_int": np.int64, "value_ints": np.int64}


def _dense(ctx: OnnxNodeContext, sparse: onnx.SparseTensorProto) -> np.ndarray:
    """A sparse_value as the dense array it stands for: zeros but at its indices (linear
    [NNZ] ones, or [NNZ, rank] coordinates)."""
    values = tensor_value(sparse.values)
    shape = tuple(int(d) for d in sparse.dims)
    dense = np.zeros(shape, dtype=values.dtype)
    indices = tensor_value(sparse.indices).astype(np.int64)
    if indices.ndim == 2:
        indices = np.ravel_multi_index(tuple(indices.T), shape) if indices.size else \
            np.zeros(0, np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= dense.size):
        raise ctx.error(f"its sparse_value has indices outside its shape {list(shape)}")
    dense.reshape(-1)[np.ravel(indices)] = np.ravel(values)
    return dense


@registry.register("Constant")
def constant(ctx: OnnxNodeContext) -> Output:
    """value (a tensor), value_float(s), value_int(s) or sparse_value; strings have no IR
    element type."""
    for name, dtype in _CONSTANT_ATTRS.items():
        if name in ctx.attrs:
            return ctx.graph.const(np.asarray(ctx.attrs[name], dtype=dtype), name=ctx.name)
    if "sparse_value" in ctx.attrs:
        return ctx.graph.const(_dense(ctx, ctx.attrs["sparse_value"]), name=ctx.name)
    if "value_string" in ctx.attrs or "value_strings" in ctx.attrs:
        raise ctx.error("its value is a string, which OpenVINO IR cannot hold")
    raise ctx.error(f"only {', '.join(_CONSTANT_ATTRS)} and sparse_value are supported as its "
                    f"value (it has {', '.join(ctx.attrs) or 'none'})")


@registry.register("ConstantOfShape")
def constant_of_shape(ctx: OnnxNodeContext) -> Output:
    """Broadcast of the one-element value (float 0 by default) to the given shape."""
    value = np.asarray(ctx.attr("value", np.zeros(1, np.float32)))
    fill = ctx.const(value.reshape(()))
    return ctx.op("Broadcast", fill, ctx.const_input(0), mode="numpy")


@registry.register("Gather")
def gather(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", 0)), data.rank)
    return ctx.op("Gather", data, ctx.const_input(1), ctx.const(np.array(axis, np.int64)),
                  batch_dims=0)


def _slice(ctx: OnnxNodeContext, starts: Output, ends: Output, axes: Output | None,
           steps: Output | None) -> Output:
    data = ctx.input(0)
    if steps is None:
        count = starts.shape[0] if starts.shape else known_rank(ctx, data)
        steps = _i64(ctx, [1] * count)
    inputs = [data, starts, ends, steps] + ([axes] if axes is not None else [])
    return ctx.op("Slice", *inputs)


@registry.register("Slice")
def slice_attributes(ctx: OnnxNodeContext) -> Output:
    starts, ends = ctx.ints("starts"), ctx.ints("ends")
    axes = ctx.ints("axes")
    return _slice(ctx, _i64(ctx, starts), _i64(ctx, ends),
                  None if axes is None else _i64(ctx, axes), None)


@registry.register("Slice", since=10)
def slice_inputs(ctx: OnnxNodeContext) -> Output:
    optional = [ctx.const_input(i) if ctx.has_input(i) else None for i in (3, 4)]
    return _slice(ctx, ctx.const_input(1), ctx.const_input(2), *optional)


def _split(ctx: OnnxNodeContext, lengths: list[int] | Output | None) -> list[Output]:
    """Equal parts (Split), or parts of given lengths (VariadicSplit), constant or computed
    at run time."""
    data = ctx.input(0)
    axis = ctx.axis(int(ctx.attr("axis", 0)), data.rank)
    parts = ctx.num_outputs
    size = data.shape[axis] if data.shape is not None else -1
    if lengths is None and size != -1 and size % parts:
        # Opset 18 with num_outputs: equal chunks of ceil(size / parts), the last smaller.
        chunk = -(-size // parts)
        lengths = [chunk] * (parts - 1) + [size - chunk * (parts - 1)]
    axis_const = ctx.const(np.array(axis, np.int64))
    if lengths is None:
        node = ctx.graph.add("Split", [data, axis_const], {"num_splits": parts}, name=ctx.name,
                             num_outputs=parts)
    elif isinstance(lengths, Output):
        node = ctx.graph.add("VariadicSplit", [data, axis_const, lengths], name=ctx.name,
                             num_outputs=parts)
    else:
        node = ctx.graph.add("VariadicSplit", [data, axis_const, _i64(ctx, lengths)],
                             name=ctx.name, num_outputs=len(lengths))
    return [node.output(i) for i in range(len(node.outputs))]


@registry.register("Split")
def split_attribute(ctx: OnnxNodeContext) -> list[Output]:
    return _split(ctx, ctx.ints("split"))


@registry.register("Split", since=13)
def split(ctx: OnnxNodeContext) -> list[Output]:
    """The split lengths may be computed at run time: one output per length."""
    if not ctx.has_input(1):
        return _split(ctx, None)
    lengths = ctx.const_value(1)
    if lengths is None:
        return _split(ctx, as_i64(ctx, ctx.input(1), "split_i64"))
    return _split(ctx, [int(n) for n in np.ravel(lengths)])


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": None}


def _pad(ctx: OnnxNodeContext, begin: Output, end: Output, value: Output | None) -> Output:
    """Pad by i64 `begin` / `end` amounts per axis (constant or run-time, negative ones crop)."""
    data = ctx.input(0)
    mode = ctx.attr("mode", "constant")
    if mode not in _PAD_MODES:
        raise ctx.error(f"pad mode {mode!r} is not supported ({', '.join(_PAD_MODES)} are)")
    if mode == "wrap":
        return _wrap_pad(ctx, data, begin, end)
    inputs = [data, begin, end]
    if mode == "constant":
        inputs.append(value if value is not None else ctx.scalar(0, data))
    return ctx.op("Pad", *inputs, pad_mode=_PAD_MODES[mode])


def _wrap_pad(ctx: OnnxNodeContext, data: Output, begin: Output, end: Output) -> Output:
    """Wrap padding, which OpenVINO's Pad lacks: per axis, a Gather of the indices
    (-begin .. size + end) modulo the axis' size."""
    rank = known_rank(ctx, data)
    dims = shape_of(ctx, data, "wrap/shape")
    zero, one = i64_const(ctx, 0), i64_const(ctx, 1)
    out = data
    for axis in range(rank):
        at = i64_const(ctx, axis)
        size = ctx.helper("Gather", dims, at, zero, suffix=f"wrap/size{axis}", batch_dims=0)
        first = ctx.helper("Negative", ctx.helper("Gather", begin, at, zero, batch_dims=0,
                                                  suffix=f"wrap/begin{axis}"),
                           suffix=f"wrap/first{axis}")
        stop = ctx.helper("Add", size, ctx.helper("Gather", end, at, zero, batch_dims=0,
                                                  suffix=f"wrap/end{axis}"),
                          suffix=f"wrap/stop{axis}", auto_broadcast="numpy")
        positions = ctx.helper("Range", first, stop, one, suffix=f"wrap/range{axis}",
                               output_type="i64")
        wrapped = ctx.helper("FloorMod", positions, size, suffix=f"wrap/index{axis}",
                             auto_broadcast="numpy")
        if axis == rank - 1:
            return ctx.op("Gather", out, wrapped, at, batch_dims=0)
        out = ctx.helper("Gather", out, wrapped, at, suffix=f"wrap/axis{axis}", batch_dims=0)
    return out


def _split_pads(ctx: OnnxNodeContext, pads: Output, count: int) -> tuple[Output, Output]:
    """ONNX pads [b0, b1, ..., e0, e1, ...] of `count` axes as (begin, end) tensors."""
    pads = as_i64(ctx, pads, "pads_i64")
    value = ctx.const_value(1)
    if value is not None:
        flat = [int(p) for p in np.ravel(value)]
        return _i64(ctx, flat[:count]), _i64(ctx, flat[count:])
    halves = ctx.graph.add("Split", [pads, i64_const(ctx, 0)], {"num_splits": 2},
                           name=f"{ctx.name}/pads_halves", num_outputs=2)
    return halves.output(0), halves.output(1)


@registry.register("Pad")
def pad_attributes(ctx: OnnxNodeContext) -> Output:
    pads = ctx.ints("pads") or ctx.ints("paddings")
    half = len(pads) // 2
    return _pad(ctx, _i64(ctx, pads[:half]), _i64(ctx, pads[half:]),
                ctx.scalar(float(ctx.attr("value", 0.0)), ctx.input(0)))


@registry.register("Pad", since=11)
def pad(ctx: OnnxNodeContext) -> Output:
    """pads, the constant value and (opset 18) the axes they apply to may all be computed at
    run time; with axes, the pads of the other axes are 0."""
    data = ctx.input(0)
    if ctx.has_input(3):
        rank = known_rank(ctx, data)
        axes = ctx.const_value(3)
        if axes is not None:
            count = int(np.size(axes))
        elif ctx.input(3).shape is not None and len(ctx.input(3).shape) == 1 \
                and ctx.input(3).shape[0] != -1:
            count = ctx.input(3).shape[0]
        else:
            raise ctx.error("the number of its axes (input 3) is unknown")
        begin, end = _split_pads(ctx, ctx.input(1), count)
        axes_input = ctx.const_input(3)
        begin = spread_over_axes(ctx, begin, axes_input, rank, "pads_begin")
        end = spread_over_axes(ctx, end, axes_input, rank, "pads_end")
    else:
        rank = data.rank
        if rank is None:
            length = ctx.input(1).shape
            if length is None or length[0] == -1:
                raise ctx.error("the rank of its input is unknown; give the model's inputs a "
                                "shape (--input_shape)")
            rank = length[0] // 2
        begin, end = _split_pads(ctx, ctx.input(1), rank)
    value = ctx.input(2) if ctx.has_input(2) else None
    if value is not None and value.shape:
        value = ctx.helper("Squeeze", value, suffix="value")
    return _pad(ctx, begin, end, value)


@registry.register("Range")
def range_(ctx: OnnxNodeContext) -> Output:
    start, limit, delta = (_as_scalar(ctx, i, what) for i, what in
                           enumerate(("start", "limit", "delta")))
    return ctx.op("Range", start, limit, delta, output_type=start.element_type)


def _as_scalar(ctx: OnnxNodeContext, index: int, what: str) -> Output:
    """Input `index` as the scalar OpenVINO's Range needs. ONNX asks for scalars too, but its
    own function bodies (AffineGrid's) pass one-element vectors, which its reference takes."""
    value = ctx.const_input(index)
    if value.rank == 0:
        return value
    return ctx.helper("Reshape", value, ctx.const(np.array([], np.int64)), suffix=f"{what}_scalar",
                      special_zero=False)
