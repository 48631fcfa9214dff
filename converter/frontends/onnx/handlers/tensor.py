"""Ops that select, create or convert tensors: Identity, Dropout, Cast, Constant,
ConstantOfShape, Gather, Slice, Split, Pad, Range."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from ..model import element_type
from . import registry
from ._util import i64 as _i64, known_rank


@registry.register("Identity")
def identity(ctx: OnnxNodeContext) -> Output:
    return ctx.input(0)


@registry.register("Dropout")
def dropout(ctx: OnnxNodeContext) -> Output:
    """Inference: the data passes unchanged. The mask output is not produced."""
    training = ctx.const_value(2)
    if training is not None and bool(np.ravel(training)[0]):
        raise ctx.error("training_mode=true is not supported; export the model for inference")
    return ctx.input(0)


@registry.register("Cast")
def cast(ctx: OnnxNodeContext) -> Output:
    target = element_type(int(ctx.attr("to")), f"Cast node {ctx.name!r}'s target")
    return ctx.op("Convert", ctx.input(0), destination_type=target)


_CONSTANT_ATTRS = {"value": None, "value_float": np.float32, "value_floats": np.float32,
                   "value_int": np.int64, "value_ints": np.int64}


@registry.register("Constant")
def constant(ctx: OnnxNodeContext) -> Output:
    for name, dtype in _CONSTANT_ATTRS.items():
        if name in ctx.attrs:
            return ctx.graph.const(np.asarray(ctx.attrs[name], dtype=dtype), name=ctx.name)
    raise ctx.error(f"only {', '.join(_CONSTANT_ATTRS)} are supported as its value "
                    f"(it has {', '.join(ctx.attrs)})")


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


def _split(ctx: OnnxNodeContext, lengths: list[int] | None) -> list[Output]:
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
    else:
        node = ctx.graph.add("VariadicSplit", [data, axis_const, _i64(ctx, lengths)],
                             name=ctx.name, num_outputs=len(lengths))
    return [node.output(i) for i in range(len(node.outputs))]


@registry.register("Split")
def split_attribute(ctx: OnnxNodeContext) -> list[Output]:
    return _split(ctx, ctx.ints("split"))


@registry.register("Split", since=13)
def split(ctx: OnnxNodeContext) -> list[Output]:
    lengths = ctx.required_value(1, "split") if ctx.has_input(1) else None
    return _split(ctx, None if lengths is None else [int(n) for n in np.ravel(lengths)])


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge"}


def _pad(ctx: OnnxNodeContext, pads: list[int], value: Output | None) -> Output:
    data = ctx.input(0)
    mode = ctx.attr("mode", "constant")
    if mode not in _PAD_MODES:
        raise ctx.error(f"pad mode {mode!r} is not supported ({', '.join(_PAD_MODES)} are)")
    half = len(pads) // 2
    inputs = [data, _i64(ctx, pads[:half]), _i64(ctx, pads[half:])]
    if mode == "constant":
        inputs.append(value if value is not None else ctx.scalar(0, data))
    return ctx.op("Pad", *inputs, pad_mode=_PAD_MODES[mode])


@registry.register("Pad")
def pad_attributes(ctx: OnnxNodeContext) -> Output:
    pads = ctx.ints("pads") or ctx.ints("paddings")
    return _pad(ctx, pads, ctx.scalar(float(ctx.attr("value", 0.0)), ctx.input(0)))


@registry.register("Pad", since=11)
def pad(ctx: OnnxNodeContext) -> Output:
    """pads (and from opset 18 the axes they apply to) must be constant."""
    pads = [int(p) for p in np.ravel(ctx.required_value(1, "pads"))]
    if ctx.has_input(3):
        rank = known_rank(ctx, ctx.input(0))
        axes = [ctx.axis(int(a), rank) for a in np.ravel(ctx.required_value(3, "axes"))]
        full = [0] * (2 * rank)
        for i, axis in enumerate(axes):
            full[axis], full[rank + axis] = pads[i], pads[len(axes) + i]
        pads = full
    value = ctx.input(2) if ctx.has_input(2) else None
    if value is not None and value.shape:
        value = ctx.helper("Squeeze", value, suffix="value")
    return _pad(ctx, pads, value)


@registry.register("Range")
def range_(ctx: OnnxNodeContext) -> Output:
    start = ctx.const_input(0)
    return ctx.op("Range", start, ctx.const_input(1), ctx.const_input(2),
                  output_type=start.element_type)
