"""Fourier transforms: DFT and IDFT (complex to complex), RDFT (real to one-sided complex),
IRDFT (one-sided complex to real), and STFT (framed one-sided DFT of a real signal).

Complex tensors are real ones with a trailing dimension of 2 (real, imaginary). `axes` and
`signal_size` may be run-time inputs: the transformed dimensions are then dynamic."""
from __future__ import annotations

import numpy as np

from . import OpSpec, register
from ._shapes import const_ints


def _axes(values: list[int], rank: int) -> list[int]:
    """Axes of a transform over `rank` (signal) dimensions, negative ones counted from the end."""
    out = []
    for axis in values:
        if not -rank <= axis < rank:
            raise ValueError(f"axis {axis} is out of range for {rank} signal dimension(s)")
        out.append(axis % rank)
    return out


def _sizes(node, axes_count: int) -> list[int] | None:
    """The signal_size input (-1 keeps a dimension), or None when absent or not constant."""
    if len(node.inputs) < 3:
        return [-1] * axes_count
    sizes = const_ints(node.inputs[2])
    if sizes is not None and len(sizes) != axes_count:
        raise ValueError(f"signal_size has {len(sizes)} values for {axes_count} axes")
    return sizes


def _transformed_shape(node, signal: tuple, last_halved: bool, last_from_half: bool):
    """`signal` (the dimensions the transform runs over, no complex pair) with its transformed
    axes resized: by signal_size, or halved (RDFT's last axis) or doubled back (IRDFT's)."""
    axes = const_ints(node.inputs[1])
    if axes is None:
        return [-1] * len(signal)
    axes = _axes(axes, len(signal))
    sizes = _sizes(node, len(axes))
    out = list(signal)
    for i, axis in enumerate(axes):
        size = -1 if sizes is None else sizes[i]
        last = i == len(axes) - 1
        if sizes is None:
            out[axis] = -1
            continue
        if size == -1:
            size = signal[axis]
            if last and last_from_half and size != -1:
                size = 2 * (size - 1)
        if last and last_halved and size != -1:
            size = size // 2 + 1
        out[axis] = size
    return out


def _np_axes_and_sizes(node, values, signal_rank: int):
    axes = _axes([int(a) for a in np.ravel(values[1])], signal_rank)
    sizes = [int(s) for s in np.ravel(values[2])] if len(values) > 2 else [-1] * len(axes)
    return axes, sizes


class _ComplexToComplex(OpSpec):
    version = "opset7"

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        if data.shape is None:
            return [(None, data.element_type)]
        if data.shape[-1] not in (2, -1):
            raise ValueError(f"the last dimension of a complex input must be 2, not "
                             f"{data.shape[-1]}")
        signal = _transformed_shape(node, tuple(data.shape[:-1]), False, False)
        return [((*signal, 2), data.element_type)]

    inverse = False

    @classmethod
    def evaluate(cls, node, values):
        data = values[0]
        complex_data = data[..., 0] + 1j * data[..., 1]
        axes, sizes = _np_axes_and_sizes(node, values, data.ndim - 1)
        sizes = [complex_data.shape[a] if s == -1 else s for a, s in zip(axes, sizes)]
        fn = np.fft.ifftn if cls.inverse else np.fft.fftn
        result = fn(complex_data, s=sizes, axes=axes)
        return [np.stack([result.real, result.imag], axis=-1).astype(data.dtype)]


@register
class DFT(_ComplexToComplex):
    """DFT-7: the unnormalized forward transform over `axes`."""

    type = "DFT"


@register
class IDFT(_ComplexToComplex):
    """IDFT-7: the inverse transform over `axes`, divided by the number of points."""

    type = "IDFT"
    inverse = True


@register
class RDFT(OpSpec):
    """RDFT-9: the one-sided transform of a real signal; the last of `axes` keeps n // 2 + 1."""

    type = "RDFT"
    version = "opset9"

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        if data.shape is None:
            return [(None, data.element_type)]
        signal = _transformed_shape(node, tuple(data.shape), True, False)
        return [((*signal, 2), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data = values[0]
        axes, sizes = _np_axes_and_sizes(node, values, data.ndim)
        sizes = [data.shape[a] if s == -1 else s for a, s in zip(axes, sizes)]
        result = np.fft.rfftn(data, s=sizes, axes=axes)
        return [np.stack([result.real, result.imag], axis=-1).astype(data.dtype)]


@register
class IRDFT(OpSpec):
    """IRDFT-9: the real signal of a one-sided spectrum; the last of `axes` becomes 2 (n - 1)
    points unless signal_size says otherwise."""

    type = "IRDFT"
    version = "opset9"

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        if data.shape is None:
            return [(None, data.element_type)]
        return [(_transformed_shape(node, tuple(data.shape[:-1]), False, True),
                 data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data = values[0]
        complex_data = data[..., 0] + 1j * data[..., 1]
        axes, sizes = _np_axes_and_sizes(node, values, data.ndim - 1)
        full = [complex_data.shape[a] for a in axes]
        full[-1] = 2 * (full[-1] - 1)
        sizes = [f if s == -1 else s for f, s in zip(full, sizes)]
        return [np.fft.irfftn(complex_data, s=sizes, axes=axes).astype(data.dtype)]


@register
class STFT(OpSpec):
    """STFT-15: frames of `frame_size` samples every `frame_step`, each multiplied by `window`
    (centered, zero-padded to frame_size) and transformed one-sided: [batch, frames,
    frame_size // 2 + 1, 2], or [batch, bins, frames, 2] with transpose_frames."""

    type = "STFT"
    version = "opset15"
    attributes = ("transpose_frames",)

    @staticmethod
    def infer(node):
        signal, _, frame_size, frame_step = node.inputs
        if signal.shape is None:
            return [(None, signal.element_type)]
        if len(signal.shape) not in (1, 2):
            raise ValueError(f"the signal must be [length] or [batch, length], not "
                             f"{list(signal.shape)}")
        size, step = const_ints(frame_size), const_ints(frame_step)
        length = signal.shape[-1]
        frames = bins = -1
        if size is not None:
            bins = size[0] // 2 + 1
            if step is not None and length != -1:
                frames = (length - size[0]) // step[0] + 1
        dims = (bins, frames) if node.attrs.get("transpose_frames") else (frames, bins)
        return [((*signal.shape[:-1], *dims, 2), signal.element_type)]
