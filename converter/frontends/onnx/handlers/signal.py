"""Signal processing and a little linear algebra: the window functions (Hann, Hamming,
Blackman), DFT, STFT, MelWeightMatrix, and Det.

The windows and MelWeightMatrix are built from Range, Cos, Log, Exp... so that their sizes may
be run-time inputs. DFT: ONNX keeps a real signal as [..., 1] and a complex one as [..., 2]. The
transformed axis is first moved next to that trailing dimension (a Transpose swapping two axes,
its order computed at run time when the axis is a model input). The transform is then a MatMul
with the exact transform matrix: a constant when its length is static and small, else built at
run time from the input's length; entries that are mathematically 0 are exactly 0, whereas
OpenVINO's f32 FFT leaves errors of ~1e-4 where the spectrum is 0, which ONNX's tolerance (atol
1e-7) does not accept. Long or run-time-sized transforms use OpenVINO's DFT, IDFT, RDFT and
IRDFT. STFT of a real signal is OpenVINO's STFT-15. Det (OpenVINO has no such op) is a Laplace
expansion for small static matrices."""
from __future__ import annotations

import math

import numpy as np

from ....graph import Output
from ...builders.elementwise import binary, select, unary
from ..context import OnnxNodeContext
from ..model import element_type
from . import registry

# cosine terms of each window: a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N)
WINDOW_TERMS = {
    "HannWindow": (0.5, 0.5, 0.0),
    "HammingWindow": (25 / 46, 21 / 46, 0.0),
    "BlackmanWindow": (0.42, 0.5, 0.08),
}


def _scalar_f32(ctx: OnnxNodeContext, value: Output, suffix: str) -> Output:
    """A run-time scalar (any shape of one element) as a 0-D f32."""
    flat = ctx.helper("Reshape", value, ctx.const(np.array([], np.int64)),
                      suffix=f"{suffix}/scalar", special_zero=False)
    return ctx.helper("Convert", flat, suffix=suffix, destination_type="f32")


@registry.register("HannWindow", "HammingWindow", "BlackmanWindow", since=17)
def window(ctx: OnnxNodeContext) -> Output:
    """A periodic window divides the circle by `size`, a symmetric one by `size - 1`."""
    a0, a1, a2 = WINDOW_TERMS[ctx.op_type]
    g, name = ctx.graph, ctx.name
    size = _scalar_f32(ctx, ctx.input(0), "size")
    zero, one = ctx.const(np.float32(0)), ctx.const(np.float32(1))
    n = ctx.helper("Range", zero, size, one, suffix="n", output_type="f32")
    period = size if int(ctx.attr("periodic", 1)) else binary(g, "Subtract", size, one,
                                                               name=f"{name}/period")
    phase = binary(g, "Divide", binary(g, "Multiply", n, ctx.const(np.float32(2 * math.pi)),
                                       name=f"{name}/two_pi_n"), period, name=f"{name}/phase")
    value = binary(g, "Subtract", ctx.const(np.float32(a0)),
                   binary(g, "Multiply", ctx.const(np.float32(a1)),
                          unary(g, "Cos", phase, name=f"{name}/cos1"), name=f"{name}/term1"),
                   name=f"{name}/sum1")
    if a2:
        double = binary(g, "Multiply", phase, ctx.const(np.float32(2)), name=f"{name}/phase2")
        value = binary(g, "Add", value, binary(g, "Multiply", ctx.const(np.float32(a2)),
                                               unary(g, "Cos", double, name=f"{name}/cos2"),
                                               name=f"{name}/term2"), name=f"{name}/sum2")
    target = element_type(int(ctx.attr("output_datatype", 1)), f"{ctx.op_type} output")
    return ctx.op("Convert", value, destination_type=target)


# The largest static DFT length computed as a MatMul with the transform matrix (its size grows
# with the square of the length; longer transforms use OpenVINO's FFT ops).
MATMUL_DFT_MAX = 512


def _as_vector(ctx: OnnxNodeContext, value: Output, suffix: str) -> Output:
    """A one-element input (scalar or [1]) as a 1-D i64 [1]: OpenVINO's axes and sizes."""
    as_i64 = ctx.helper("Convert", value, suffix=f"{suffix}/i64", destination_type="i64")
    return ctx.helper("Reshape", as_i64, ctx.const(np.array([1], np.int64)), suffix=suffix,
                      special_zero=False)


def _dft_axis(ctx: OnnxNodeContext, rank: int) -> int | Output:
    """The transformed axis (counted over the input with its trailing real/complex dimension):
    an int when constant, else a run-time non-negative [1]."""
    if ctx.opset < 20:
        return ctx.axis(int(ctx.attr("axis", 1)), rank)
    if not ctx.has_input(2):
        return rank - 2
    value = ctx.const_value(2)
    if value is not None:
        return ctx.axis(int(np.ravel(value)[0]), rank)
    axis = _as_vector(ctx, ctx.input(2), "axis")
    negative = ctx.helper("Convert", binary(ctx.graph, "Less", axis, ctx.const(np.int64(0)),
                                            name=f"{ctx.name}/axis_negative"),
                          suffix="axis_shift", destination_type="i64")
    shift = binary(ctx.graph, "Multiply", negative, ctx.const(np.int64(rank)),
                   name=f"{ctx.name}/axis_wrap")
    return binary(ctx.graph, "Add", axis, shift, name=f"{ctx.name}/axis")


def _swap_order(ctx: OnnxNodeContext, axis: int | Output, rank: int) -> Output | None:
    """The Transpose order that swaps `axis` with axis rank - 2 (its own inverse), or None when
    they are the same axis."""
    target = rank - 2
    if isinstance(axis, int):
        if axis == target:
            return None
        order = list(range(rank))
        order[axis], order[target] = target, axis
        return ctx.const(np.array(order, np.int64))
    g, name = ctx.graph, ctx.name
    positions = ctx.const(np.arange(rank, dtype=np.int64))
    at_target = binary(g, "Equal", positions, ctx.const(np.int64(target)), name=f"{name}/at_target")
    at_axis = binary(g, "Equal", positions, axis, name=f"{name}/at_axis")
    inner = select(g, at_target, axis, positions, name=f"{name}/order_target")
    return select(g, at_axis, ctx.const(np.int64(target)), inner, name=f"{name}/order")


def _static_length(ctx: OnnxNodeContext, data: Output, axis: int | Output) -> int | None:
    """The number of points along the transformed axis of the input, when known now: a run-time
    axis needs every axis it may name to have the same static length."""
    if isinstance(axis, int):
        dims = {data.shape[axis]}
    else:
        dims = set(data.shape[:-1])
    return dims.pop() if len(dims) == 1 and -1 not in dims else None


def _snapped(values: np.ndarray) -> np.ndarray:
    """cos/sin values with the roundoff of exact 0 and +-1 removed."""
    values = np.where(np.abs(values) < 1e-12, 0.0, values)
    return np.where(np.abs(np.abs(values) - 1) < 1e-12, np.sign(values), values)


def _dft_matrix(length: int, complex_input: bool, inverse: bool, onesided: bool) -> np.ndarray:
    """The transform as a real matrix [inputs * (1 or 2), outputs * (1 or 2)] acting on the
    flattened (value, real/imaginary) pairs. An inverse one-sided transform reads length // 2 + 1
    bins and gives `length` real values (numpy's irfft); the others read `length` points."""
    bins = length // 2 + 1
    if inverse and onesided:
        k, t = np.arange(bins)[:, None], np.arange(length)[None, :]
        angle = 2 * np.pi * ((k * t) % length) / length
        weight = np.where((k == 0) | ((length % 2 == 0) & (k == length // 2)), 1.0, 2.0)
        rows = [weight * _snapped(np.cos(angle)) / length,
                -weight * _snapped(np.sin(angle)) / length]
        matrix = np.stack(rows[:2 if complex_input else 1], axis=1)  # [bins, c_in, length]
        return matrix.reshape(-1, length)
    outputs = bins if onesided else length
    t, k = np.arange(length)[:, None], np.arange(outputs)[None, :]
    angle = 2 * np.pi * ((k * t) % length) / length
    cos, sin = _snapped(np.cos(angle)), _snapped(np.sin(angle))
    sign = 1.0 if inverse else -1.0
    scale = 1.0 / length if inverse else 1.0
    from_real = np.stack([cos, sign * sin], axis=-1)          # [t, k, (re, im)]
    from_imaginary = np.stack([-sign * sin, cos], axis=-1)
    parts = [from_real, from_imaginary] if complex_input else [from_real]
    return (np.stack(parts, axis=1) * scale).reshape(len(parts) * length, 2 * outputs)


def _fit_length(ctx: OnnxNodeContext, data: Output, size: int, wanted: int) -> Output:
    """`data` cut or zero-padded along axis rank - 2 from `size` to `wanted` points."""
    rank = data.rank
    if size > wanted:
        return ctx.helper("Slice", data, ctx.const(np.array([0], np.int64)),
                          ctx.const(np.array([wanted], np.int64)),
                          ctx.const(np.array([1], np.int64)),
                          ctx.const(np.array([rank - 2], np.int64)), suffix="cut")
    if size < wanted:
        end = np.zeros(rank, np.int64)
        end[rank - 2] = wanted - size
        return ctx.helper("Pad", data, ctx.const(np.zeros(rank, np.int64)), ctx.const(end),
                          ctx.scalar(0, data), suffix="zero_pad", pad_mode="constant")
    return data


def _apply_matrix(ctx: OnnxNodeContext, data: Output, matrix: Output, pair: int,
                  last: bool) -> Output:
    """`data` [..., points, 1 or 2] times `matrix` [points * (1 or 2), outputs * pair], as
    [..., outputs, pair]."""
    keep = [0] * (data.rank - 2)
    flat = ctx.helper("Reshape", data, ctx.const(np.array(keep + [-1], np.int64)),
                      suffix="pairs", special_zero=True)
    product = ctx.helper("MatMul", flat, matrix, suffix="matmul", transpose_a=False,
                         transpose_b=False)
    target = ctx.const(np.array(keep + [-1, pair], np.int64))
    if last:
        return ctx.op("Reshape", product, target, special_zero=True)
    return ctx.helper("Reshape", product, target, suffix="spectrum", special_zero=True)


def _matmul_dft(ctx: OnnxNodeContext, data: Output, complex_input: bool, size: int,
                length: int, inverse: bool, onesided: bool, last: bool) -> Output:
    """The transform along axis rank - 2 of `data` ([..., size, 1 or 2]) as one MatMul with a
    constant matrix."""
    wanted = length // 2 + 1 if inverse and onesided else length
    fitted = _fit_length(ctx, data, size, wanted)
    dtype = {"f64": np.float64, "f16": np.float16}.get(data.element_type, np.float32)
    matrix = _dft_matrix(length, complex_input, inverse, onesided).astype(dtype)
    return _apply_matrix(ctx, fitted, ctx.const(matrix), 1 if inverse and onesided else 2, last)


def _snap_zero(ctx: OnnxNodeContext, values: Output, suffix: str) -> Output:
    """f32 cos/sin values with the roundoff of an exact 0 removed: for a transform shorter than
    10^6 points, a true nonzero cos or sin of 2 pi m / n exceeds 1e-6."""
    g = ctx.graph
    tiny = binary(g, "Less", unary(g, "Abs", values, name=f"{ctx.name}/{suffix}/abs"),
                  ctx.scalar(1e-6, values), name=f"{ctx.name}/{suffix}/tiny")
    return select(g, tiny, ctx.scalar(0, values), values, name=f"{ctx.name}/{suffix}")


def _stack(ctx: OnnxNodeContext, parts: list[Output], axis: int, suffix: str) -> Output:
    expanded = [ctx.helper("Unsqueeze", p, ctx.const(np.array([axis], np.int64)),
                           suffix=f"{suffix}/{i}") for i, p in enumerate(parts)]
    return ctx.helper("Concat", *expanded, suffix=suffix, axis=axis)


def _runtime_angles(ctx: OnnxNodeContext, points: Output, length: Output,
                    outputs: Output) -> tuple[Output, Output, Output]:
    """cos and sin of 2 pi (r c mod length) / length for r < points, c < outputs ([points,
    outputs], exact zeros kept zero), and the row indices r [points]."""
    g, name = ctx.graph, ctx.name
    zero, one = ctx.const(np.int64(0)), ctx.const(np.int64(1))
    rows = ctx.helper("Range", zero, points, one, suffix="rows", output_type="i64")
    cols = ctx.helper("Range", zero, outputs, one, suffix="cols", output_type="i64")
    column = ctx.helper("Unsqueeze", rows, ctx.const(np.array([1], np.int64)), suffix="rows_column")
    turns = binary(g, "FloorMod", binary(g, "Multiply", column, cols, name=f"{name}/products"),
                   length, name=f"{name}/turns_int")
    turns = ctx.helper("Convert", turns, suffix="turns", destination_type="f32")
    length_f = ctx.helper("Convert", length, suffix="length_f32", destination_type="f32")
    step = binary(g, "Divide", ctx.const(np.float32(2 * math.pi)), length_f, name=f"{name}/step")
    angle = binary(g, "Multiply", turns, step, name=f"{name}/angle")
    cos = _snap_zero(ctx, unary(g, "Cos", angle, name=f"{name}/cos_raw"), "cos")
    sin = _snap_zero(ctx, unary(g, "Sin", angle, name=f"{name}/sin_raw"), "sin")
    return cos, sin, rows


def _as_1d(ctx: OnnxNodeContext, scalar: Output, suffix: str) -> Output:
    return ctx.helper("Reshape", scalar, ctx.const(np.array([1], np.int64)), suffix=suffix,
                      special_zero=False)


def _runtime_matrix_dft(ctx: OnnxNodeContext, data: Output, complex_input: bool,
                        inverse: bool, onesided: bool, last: bool) -> Output:
    """The transform along axis rank - 2 of `data` as a MatMul with a matrix built at run time,
    for an input whose length along that axis is not known now (a run-time axis). The matrix
    is laid out as `_dft_matrix`'s."""
    g, name = ctx.graph, ctx.name
    one, two = ctx.const(np.int64(1)), ctx.const(np.int64(2))
    f32 = ctx.const(np.float32(1))  # a template for f32 scalars
    shape = ctx.helper("ShapeOf", data, suffix="points_shape", output_type="i64")
    points = ctx.helper("Gather", shape, ctx.const(np.int64(data.rank - 2)),
                        ctx.const(np.int64(0)), suffix="points", batch_dims=0)
    irfft = inverse and onesided
    length = points
    if irfft:
        length = binary(g, "Multiply", binary(g, "Subtract", points, one, name=f"{name}/bins_1"),
                        two, name=f"{name}/length")
    outputs = length
    if onesided and not inverse:
        half = binary(g, "Divide", length, two, name=f"{name}/half", m_pythondiv=True)
        outputs = binary(g, "Add", half, one, name=f"{name}/bins")
    cos, sin, rows = _runtime_angles(ctx, points, length, outputs)
    scale = ctx.helper("Convert", length, suffix="scale", destination_type="f32")
    minus_one = ctx.const(np.array([-1], np.int64))
    if irfft:  # rows are bins k, columns samples t; bins 0 and n / 2 count once, others twice
        k = ctx.helper("Convert", rows, suffix="k", destination_type="f32")
        k = ctx.helper("Unsqueeze", k, ctx.const(np.array([1], np.int64)), suffix="k_column")
        dc = binary(g, "Equal", k, ctx.scalar(0, f32), name=f"{name}/dc")
        twice = binary(g, "Multiply", k, ctx.scalar(2, f32), name=f"{name}/k2")
        nyquist = binary(g, "Equal", twice, scale, name=f"{name}/nyquist")
        edge = binary(g, "LogicalOr", dc, nyquist, name=f"{name}/edge")
        weight = select(g, edge, ctx.scalar(1, f32), ctx.scalar(2, f32), name=f"{name}/weight_raw")
        weight = binary(g, "Divide", weight, scale, name=f"{name}/weight")
        from_real = binary(g, "Multiply", cos, weight, name=f"{name}/from_real")
        from_imaginary = unary(g, "Negative", binary(g, "Multiply", sin, weight,
                                                     name=f"{name}/w_sin"),
                               name=f"{name}/from_imaginary")
        parts = [from_real, from_imaginary] if complex_input else [from_real]
        pattern = ctx.helper("Concat", minus_one, _as_1d(ctx, length, "length_1d"),
                             suffix="matrix_shape", axis=0)
        matrix = ctx.helper("Reshape", _stack(ctx, parts, 1, "matrix_rows"), pattern,
                            suffix="matrix", special_zero=False)
        return _apply_matrix(ctx, data, matrix, 1, last)
    signed_sin = sin if inverse else unary(g, "Negative", sin, name=f"{name}/minus_sin")
    blocks = [_stack(ctx, [cos, signed_sin], 2, "from_real")]  # [t, k, (re, im)]
    if complex_input:
        minus_signed = unary(g, "Negative", signed_sin, name=f"{name}/minus_signed_sin")
        blocks.append(_stack(ctx, [minus_signed, cos], 2, "from_imaginary"))
    columns = binary(g, "Multiply", _as_1d(ctx, outputs, "outputs_1d"),
                     ctx.const(np.array([2], np.int64)), name=f"{name}/columns")
    pattern = ctx.helper("Concat", minus_one, columns, suffix="matrix_shape", axis=0)
    matrix = ctx.helper("Reshape", _stack(ctx, blocks, 1, "matrix_rows"), pattern,
                        suffix="matrix_raw", special_zero=False)
    if inverse:
        matrix = binary(g, "Divide", matrix, scale, name=f"{name}/matrix")
    return _apply_matrix(ctx, data, matrix, 2, last)


def _complex(ctx: OnnxNodeContext, data: Output) -> Output:
    """A real [..., 1] signal as a complex [..., 2] one with zero imaginary parts."""
    shape = ctx.helper("ShapeOf", data, suffix="real_shape", output_type="i64")
    zeros = ctx.helper("Broadcast", ctx.scalar(0, data), shape, suffix="imaginary", mode="numpy")
    return ctx.helper("Concat", data, zeros, suffix="complex", axis=-1)


def _openvino_dft(ctx: OnnxNodeContext, data: Output, complex_input: bool, inverse: bool,
                  onesided: bool, last: bool) -> Output:
    """The transform along axis rank - 2 with OpenVINO's DFT, IDFT, RDFT or IRDFT."""
    rank = data.rank
    emit = ctx.op if last else (lambda op, *inputs, **attrs: ctx.helper(op, *inputs, **attrs))
    axes = ctx.const(np.array([rank - 2], np.int64))
    sizes = [_as_vector(ctx, ctx.input(1), "dft_length")] if ctx.has_input(1) else []
    real = not complex_input
    if not inverse and real and onesided:
        squeezed = ctx.helper("Squeeze", data, ctx.const(np.array([-1], np.int64)),
                              suffix="real")
        return emit("RDFT", squeezed, axes, *sizes)
    signal = _complex(ctx, data) if real else data
    if inverse and onesided:
        restored = ctx.helper("IRDFT", signal, axes, *sizes, suffix="irdft")
        return emit("Unsqueeze", restored, ctx.const(np.array([-1], np.int64)))
    if inverse:
        return emit("IDFT", signal, axes, *sizes)
    if not onesided:
        return emit("DFT", signal, axes, *sizes)
    spectrum = ctx.helper("DFT", signal, axes, *sizes, suffix="full")
    shape = ctx.helper("ShapeOf", spectrum, suffix="spectrum_shape", output_type="i64")
    length = ctx.helper("Gather", shape, axes, ctx.const(np.int64(0)), suffix="length",
                        batch_dims=0)
    half = binary(ctx.graph, "Divide", length, ctx.const(np.int64(2)), name=f"{ctx.name}/half",
                  m_pythondiv=True)
    stop = binary(ctx.graph, "Add", half, ctx.const(np.int64(1)), name=f"{ctx.name}/bins")
    return emit("Slice", spectrum, ctx.const(np.array([0], np.int64)), stop,
                ctx.const(np.array([1], np.int64)), axes)


def _transform_length(ctx: OnnxNodeContext, size: int | None, inverse: bool,
                      onesided: bool) -> int | None:
    """The DFT length: dft_length when given (it must then be constant to be known), else the
    input's points (2 (bins - 1) for an inverse one-sided transform)."""
    if ctx.has_input(1):
        value = ctx.const_value(1)
        return None if value is None else int(np.ravel(value)[0])
    if size is None:
        return None
    return 2 * (size - 1) if inverse and onesided else size


@registry.register("DFT", since=17)
def dft(ctx: OnnxNodeContext) -> Output:
    data = ctx.input(0)
    if data.shape is None or data.shape[-1] not in (1, 2) or len(data.shape) < 2:
        raise ctx.error(f"its input must end in a static dimension of 1 (real) or 2 (complex), "
                        f"not shape {None if data.shape is None else list(data.shape)}")
    inverse, onesided = bool(ctx.attr("inverse", 0)), bool(ctx.attr("onesided", 0))
    rank = len(data.shape)
    axis = _dft_axis(ctx, rank)
    order = _swap_order(ctx, axis, rank)
    moved = data if order is None else ctx.helper("Transpose", data, order, suffix="to_axis")
    size = _static_length(ctx, data, axis)
    length = _transform_length(ctx, size, inverse, onesided)
    last = order is None
    complex_input = data.shape[-1] == 2
    if size is not None and length is not None and 0 < length <= MATMUL_DFT_MAX:
        result = _matmul_dft(ctx, moved, complex_input, size, length, inverse, onesided, last)
    elif size is None and not ctx.has_input(1) and data.element_type == "f32":
        result = _runtime_matrix_dft(ctx, moved, complex_input, inverse, onesided, last)
    else:
        result = _openvino_dft(ctx, moved, complex_input, inverse, onesided, last)
    return result if last else ctx.op("Transpose", result, order)


@registry.register("STFT", since=17)
def stft(ctx: OnnxNodeContext) -> Output:
    """A real signal [batch, length, 1] framed and transformed one-sided by OpenVINO's STFT; the
    window defaults to ones of frame_length, frame_length to the window's length."""
    signal = ctx.input(0)
    if signal.shape is None or len(signal.shape) != 3 or signal.shape[-1] != 1:
        raise ctx.error(f"only a real signal [batch, length, 1] can be converted (OpenVINO's STFT "
                        f"takes no complex signal), not shape "
                        f"{None if signal.shape is None else list(signal.shape)}")
    if not int(ctx.attr("onesided", 1)):
        raise ctx.error("onesided=0 (both halves of the spectrum) cannot be converted: "
                        "OpenVINO's STFT gives the one-sided spectrum only")
    if not ctx.has_input(2) and not ctx.has_input(3):
        raise ctx.error("has neither a window nor a frame_length: the frame size is unknown")
    step = _scalar_i64(ctx, 1, "frame_step")
    if ctx.has_input(3):
        size = _scalar_i64(ctx, 3, "frame_length")
    else:
        window_shape = ctx.helper("ShapeOf", ctx.input(2), suffix="window_shape", output_type="i64")
        size = ctx.helper("Squeeze", window_shape, ctx.const(np.array([0], np.int64)),
                          suffix="frame_length")
    if ctx.has_input(2):
        window = ctx.input(2)
    else:
        length = ctx.helper("Reshape", size, ctx.const(np.array([1], np.int64)),
                            suffix="window_length", special_zero=False)
        window = ctx.helper("Broadcast", ctx.scalar(1, signal), length, suffix="window",
                            mode="numpy")
    real = ctx.helper("Squeeze", signal, ctx.const(np.array([2], np.int64)), suffix="real")
    return ctx.op("STFT", real, window, size, step, transpose_frames=False)


def _scalar_i64(ctx: OnnxNodeContext, index: int, suffix: str) -> Output:
    """A one-element input as a 0-D i64, a constant when it is known now."""
    known = ctx.const_value(index)
    if known is not None:
        return ctx.const(np.int64(np.ravel(known)[0]))
    as_i64 = ctx.helper("Convert", ctx.input(index), suffix=f"{suffix}/i64",
                        destination_type="i64")
    return ctx.helper("Reshape", as_i64, ctx.const(np.array([], np.int64)), suffix=suffix,
                      special_zero=False)


# The largest matrix whose determinant is expanded into element-wise ops (Laplace expansion
# grows factorially; OpenVINO has no determinant op).
DET_MAX = 5


@registry.register("Det", since=11)
def det(ctx: OnnxNodeContext) -> Output:
    """The determinant of each [n, n] matrix of the input, by Laplace expansion along the first
    row (memoized per minor) for a static n up to DET_MAX."""
    data = ctx.input(0)
    if data.shape is None or len(data.shape) < 2 or data.shape[-1] != data.shape[-2] \
            or data.shape[-1] == -1:
        raise ctx.error(f"needs square matrices of a static size, not shape "
                        f"{None if data.shape is None else list(data.shape)}")
    n = data.shape[-1]
    if n > DET_MAX:
        raise ctx.error(f"a {n}x{n} determinant cannot be converted: OpenVINO has no "
                        f"determinant op and the expansion is limited to {DET_MAX}x{DET_MAX}")
    g, name = ctx.graph, ctx.name
    rows = [ctx.helper("Gather", data, ctx.const(np.int64(i)), ctx.const(np.int64(-2)),
                       suffix=f"row{i}", batch_dims=0) for i in range(n)]
    elements = {}

    def element(i: int, j: int) -> Output:
        if (i, j) not in elements:
            elements[i, j] = ctx.helper("Gather", rows[i], ctx.const(np.int64(j)),
                                        ctx.const(np.int64(-1)), suffix=f"e{i}{j}", batch_dims=0)
        return elements[i, j]

    minors: dict[tuple[int, ...], Output] = {}

    def minor(cols: tuple[int, ...]) -> Output:
        """The determinant of the last len(cols) rows restricted to `cols`."""
        row = n - len(cols)
        if len(cols) == 1:
            return element(row, cols[0])
        if cols not in minors:
            total = None
            for k, col in enumerate(cols):
                rest = cols[:k] + cols[k + 1:]
                term = binary(g, "Multiply", element(row, col), minor(rest),
                              name=f"{name}/term{row}_{col}_{''.join(map(str, rest))}")
                if total is None:
                    total = term
                else:
                    total = binary(g, "Subtract" if k % 2 else "Add", total, term,
                                   name=f"{name}/sum{row}_{k}_{''.join(map(str, cols))}")
            minors[cols] = total
        return minors[cols]

    result = minor(tuple(range(n)))
    return ctx.op("Multiply", result, ctx.scalar(1, data), auto_broadcast="numpy")


@registry.register("MelWeightMatrix", since=17)
def mel_weight_matrix(ctx: OnnxNodeContext) -> Output:
    """[dft_length // 2 + 1, num_mel_bins] triangular filters between num_mel_bins + 2 points
    spaced evenly on the mel scale (2595 log10(1 + f / 700)) from lower_edge_hertz to
    upper_edge_hertz, each point floored to a spectrogram bin as ONNX's reference does; every
    input may be a run-time scalar."""
    g, name = ctx.graph, ctx.name

    def f32(value: float) -> Output:
        return ctx.const(np.float32(value))

    def op(kind: str, a: Output, b: Output, suffix: str, **attrs) -> Output:
        return binary(g, kind, a, b, name=f"{name}/{suffix}", **attrs)

    bands = _scalar_i64(ctx, 0, "num_mel_bins")
    length = _scalar_i64(ctx, 1, "dft_length")
    rate = _scalar_f32(ctx, ctx.input(2), "sample_rate")
    lower, upper = (_scalar_f32(ctx, ctx.input(i), f"edge{i}") for i in (3, 4))

    def to_mel(hertz: Output, suffix: str) -> Output:
        ratio = op("Add", op("Divide", hertz, f32(700), f"{suffix}/ratio"), f32(1), f"{suffix}/1p")
        return op("Multiply", unary(g, "Log", ratio, name=f"{name}/{suffix}/log"),
                  f32(2595 / math.log(10)), suffix)

    low_mel, high_mel = to_mel(lower, "low_mel"), to_mel(upper, "high_mel")
    points = op("Add", bands, ctx.const(np.int64(2)), "points")
    points_f = ctx.helper("Convert", points, suffix="points_f32", destination_type="f32")
    step = op("Divide", op("Subtract", high_mel, low_mel, "mel_span"), points_f, "mel_step")
    index = ctx.helper("Range", f32(0), points_f, f32(1), suffix="index", output_type="f32")
    mel = op("Add", op("Multiply", index, step, "mel_offsets"), low_mel, "mel")
    exponent = op("Multiply", mel, f32(math.log(10) / 2595), "mel_exponent")
    expm1 = op("Subtract", unary(g, "Exp", exponent, name=f"{name}/mel_exp"), f32(1), "expm1")
    hertz = op("Multiply", expm1, f32(700), "hertz")
    scaled = op("Multiply", ctx.helper("Convert", op("Add", length, ctx.const(np.int64(1)),
                                                      "length_1"),
                                       suffix="length_f32", destination_type="f32"),
                hertz, "scaled")
    edges = unary(g, "Floor", op("Divide", scaled, rate, "edge_raw"), name=f"{name}/edges")
    vector = ctx.const(np.array([1], np.int64))

    def shifted(offset: int) -> Output:
        start = ctx.const(np.array([offset], np.int64))
        stop = op("Add", ctx.helper("Reshape", bands, vector, suffix=f"bands_{offset}",
                                    special_zero=False), start, f"stop{offset}")
        part = ctx.helper("Slice", edges, start, stop, vector, ctx.const(np.array([0], np.int64)),
                          suffix=f"edge{offset}")
        return ctx.helper("Unsqueeze", part, ctx.const(np.array([0], np.int64)),
                          suffix=f"edge{offset}/row")

    left, centre, right = shifted(0), shifted(1), shifted(2)
    rows = op("Add", op("Divide", length, ctx.const(np.int64(2)), "half", m_pythondiv=True),
              ctx.const(np.int64(1)), "rows")
    bins = ctx.helper("Unsqueeze", ctx.helper("Range", f32(0), ctx.helper(
        "Convert", rows, suffix="rows_f32", destination_type="f32"), f32(1), suffix="bins",
        output_type="f32"), ctx.const(np.array([1], np.int64)), suffix="bin_column")
    rise = op("Divide", op("Subtract", bins, left, "rise_num"),
              op("Maximum", op("Subtract", centre, left, "rise_span"), f32(1), "rise_den"), "rise")
    fall = op("Divide", op("Subtract", right, bins, "fall_num"),
              op("Maximum", op("Subtract", right, centre, "fall_span"), f32(1), "fall_den"), "fall")
    rising = op("LogicalAnd", op("GreaterEqual", bins, left, "after_left"),
                op("Less", bins, centre, "before_centre"), "rising")
    falling = op("LogicalAnd", op("Greater", bins, centre, "after_centre"),
                 op("Less", bins, right, "before_right"), "falling")
    zero = f32(0)
    value = select(g, rising, rise, select(g, falling, fall, zero, name=f"{name}/fall_part"),
                   name=f"{name}/slopes")
    value = select(g, op("Equal", bins, centre, "at_centre"), f32(1), value, name=f"{name}/peaks")
    target = element_type(int(ctx.attr("output_datatype", 1)), "MelWeightMatrix output")
    return ctx.op("Convert", value, destination_type=target)
