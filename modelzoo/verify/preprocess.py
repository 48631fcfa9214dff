"""The reference side's input preprocessing, read from the Model Optimizer's flags on its own.

The converter bakes `--reverse_input_channels`, `--mean_values`, `--scale_values` and `--scale`
into the IR, so the IR takes raw input. The reference must feed the source model what those
flags mean, as the Model Optimizer documents them: first reverse the channels (RGB <-> BGR, only
on inputs with 3 channels), then subtract the mean, then divide by the scale, per input, on the
channel axis (axis 1 of an ONNX (NCHW) input, the last axis of a TensorFlow (NHWC) one).

Nothing here comes from the converter: the flag text is parsed again and the channel axis found
again, so that a mistake in the converter's own parsing or planning cannot cancel out in both
sides of the comparison.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

_ENTRY = re.compile(r"\s*([^\[\]()]*?)\s*[\[(]([^\])]*)[\])]\s*,?")


@dataclass(frozen=True)
class Preprocessing:
    """What one input gets before the source model sees it."""

    reverse: bool = False
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None
    channel_axis: int = -1

    @property
    def changes_values(self) -> bool:
        return self.reverse or self.mean is not None or self.scale is not None

    def describe(self) -> dict[str, Any]:
        return {"reverse_input_channels": self.reverse, "mean_values": self.mean,
                "scale_values": self.scale, "channel_axis": self.channel_axis}


def parse_values(raw: Any) -> dict[str, tuple[float, ...]]:
    """mo's `--mean_values`/`--scale_values` by input name ("" for every input).

    Accepts mo's text (`[123,117,104]`, `(1 2 3)`, `data[1,2,3],info[4]`) and what a TOML
    manifest gives (`[1, 2, 3]`, `{data = [1, 2, 3]}`)."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return {str(name): _floats(values) for name, values in raw.items()}
    if isinstance(raw, (list, tuple)):
        return {"": _floats(raw)}
    text, found, position = str(raw).strip(), {}, 0
    while position < len(text):
        match = _ENTRY.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"{text!r} is not a value list like [1,2,3] or name[1,2,3]")
        found[match.group(1)] = _floats(match.group(2))
        position = match.end()
    if not found:
        raise ValueError(f"{text!r} holds no values")
    return found


def _floats(values: Any) -> tuple[float, ...]:
    if isinstance(values, str):
        values = [v for v in re.split(r"[\s,]+", values.strip()) if v]
    numbers = tuple(float(v) for v in values)
    if not numbers:
        raise ValueError("an empty list of values")
    return numbers


def _truthy(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes")
    return bool(raw)


def channel_axis(framework: str, rank: int) -> int:
    """Axis 1 for ONNX (NCHW, and NC... for any rank), the last axis for TensorFlow (NHWC)."""
    if rank <= 1:
        return 0
    return 1 if framework == "onnx" else rank - 1


def _for_input(values: dict[str, tuple[float, ...]], names: Iterable[str]) -> tuple[float, ...] | None:
    """The values named for this input (by any of its names, with or without `:0`), else the
    unnamed ones."""
    wanted = set()
    for name in names:
        wanted |= {name, name.split(":")[0] if name.endswith(":0") else name}
    for name, numbers in values.items():
        if name and (name in wanted or f"{name}:0" in wanted):
            return numbers
    return values.get("")


def preprocessing_for(flags: Mapping[str, Any], names: Iterable[str], shape: tuple[int, ...],
                      framework: str) -> Preprocessing:
    """The preprocessing the flags give the source input known by `names`, of static `shape`."""
    names = list(names)
    axis = channel_axis(framework, len(shape))
    channels = shape[axis] if shape else 1
    mean = _for_input(parse_values(flags.get("mean_values")), names)
    scale = _for_input(parse_values(flags.get("scale_values")), names)
    if scale is None and flags.get("scale") not in (None, ""):
        scale = (float(flags["scale"]),)
    reverse = _truthy(flags.get("reverse_input_channels", False)) and channels == 3
    for flag, values in (("mean_values", mean), ("scale_values", scale)):
        if values is not None and len(values) not in (1, channels):
            raise ValueError(f"{flag} gives {len(values)} values for input {names[0]!r}, whose "
                             f"channel axis {axis} has {channels}")
    return Preprocessing(reverse, mean, scale, axis)


def apply(raw, pre: Preprocessing):
    """(reverse(raw) - mean) / scale, in float32, as the source model receives it."""
    import numpy as np

    x = np.asarray(raw, dtype=np.float32)
    if pre.reverse:
        x = np.flip(x, axis=pre.channel_axis)
    along_channels = [1] * x.ndim
    if x.ndim:
        along_channels[pre.channel_axis] = -1
    if pre.mean is not None:
        x = x - np.asarray(pre.mean, np.float32).reshape(along_channels if len(pre.mean) > 1 else ())
    if pre.scale is not None:
        x = x / np.asarray(pre.scale, np.float32).reshape(along_channels if len(pre.scale) > 1 else ())
    return np.ascontiguousarray(x)
