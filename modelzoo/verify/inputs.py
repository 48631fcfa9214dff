"""Inputs for verification that cover the domain a model really receives.

An IR with mean/scale/reverse-channels baked in is fed raw pixels in production, so an image
input of such an IR gets raw pixel values 0..255 here: a structured picture (a different
gradient per channel, blocks, a little seeded noise), so that a swapped channel order, a wrong
mean or a spatially broken layer shows in the numbers. Other inputs get what their element type
and the flags imply; a model that needs real data (token ids, masks, sizes) states a range or
gives a file (`verify_inputs` in the manifest):

    verify_inputs = "samples/batch.npz"                   # arrays by input name (.npy: one input)
    verify_inputs = { input_ids = { low = 0, high = 30521 }, pixels = "samples/cat.npy" }

Shapes come from the file, else the IR's static shape, else `input_shape`; an input whose shape
nothing fixes is a `VerifierUnavailable` that says what to set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import VerifierUnavailable
from .preprocess import Preprocessing

IMAGE_CHANNELS = (1, 3, 4)
PIXEL_RANGE = (0.0, 255.0)
UNIT_RANGE = (-1.0, 1.0)
SMALL_INTEGERS = (0, 9)


@dataclass(frozen=True)
class InputRequest:
    """One input to generate: its name (for messages and named settings), every name it is
    known by, the numpy dtype the IR takes, its static shape, and the flags' preprocessing."""

    name: str
    names: frozenset[str]
    dtype: str
    shape: tuple[int, ...]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)


def parse_spec(spec: Any, base_dir: Path | None) -> dict[str, Any]:
    """`verify_inputs` as {input name or "": {"low", "high"} | Path}; "" is a file of arrays
    by name (.npz) or the one input's array (.npy)."""
    if spec is None:
        return {}
    if isinstance(spec, (str, Path)):
        return {"": _path(spec, base_dir)}
    if not isinstance(spec, Mapping):
        raise ValueError(f"expected a file path or a table by input name, got {spec!r}")
    parsed = {}
    for name, value in spec.items():
        if isinstance(value, (str, Path)):
            parsed[str(name)] = _path(value, base_dir)
        elif isinstance(value, Mapping) and set(value) <= {"low", "high"} and value:
            low, high = value.get("low", 0), value.get("high", 1)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) \
                    or low > high:
                raise ValueError(f"input {name!r}: expected low <= high, numbers, got {dict(value)}")
            parsed[str(name)] = {"low": low, "high": high}
        else:
            raise ValueError(f"input {name!r}: expected a .npy/.npz path or {{low = ..., high = ...}}, "
                             f"got {value!r}")
    return parsed


def _path(value: str | Path, base_dir: Path | None) -> Path:
    path = Path(value)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"{value}: input files must be .npy or .npz")
    return path


def spec_files(spec: Mapping[str, Any]) -> list[Path]:
    """The files a parsed spec reads (they key the verification)."""
    return sorted({v for v in spec.values() if isinstance(v, Path)})


def setting_for(spec: Mapping[str, Any], request_names) -> Any:
    """The spec's entry for an input: by any of its names (with or without `:0`), else ""."""
    for name in request_names:
        for candidate in (name, name[:-2] if name.endswith(":0") else f"{name}:0"):
            if candidate in spec:
                return spec[candidate]
    return spec.get("")


def load_array(path: Path, names) -> Any:
    """The array for an input from a .npy file, or from a .npz by one of the input's names."""
    import numpy as np

    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise VerifierUnavailable(f"verify_inputs: cannot read {path} ({exc}); give a .npy or "
                                  f".npz written by numpy") from None
    if path.suffix == ".npy":
        return loaded
    with loaded:
        for name in sorted(names):
            for candidate in (name, name[:-2] if name.endswith(":0") else name):
                if candidate in loaded.files:
                    return loaded[candidate]
        raise VerifierUnavailable(f"verify_inputs: {path} has no array for input "
                                  f"{sorted(names)[0]!r} (it has {sorted(loaded.files)})")


def static_shape(name: str, ir_shape: list[int | None], override: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape to feed: the IR's where it is static, else `override` (from input_shape or a
    file), else a `VerifierUnavailable` naming the input and what fixes it."""
    if all(d is not None for d in ir_shape):
        return tuple(int(d) for d in ir_shape)
    if override is not None and len(override) == len(ir_shape) and all(d >= 0 for d in override) \
            and all(d is None or d == o for d, o in zip(ir_shape, override)):
        return tuple(override)
    dims = ",".join("?" if d is None else str(d) for d in ir_shape)
    raise VerifierUnavailable(f"input {name!r} has dynamic dimensions [{dims}] that nothing fixes; "
                              f"give input_shape (or verify_inputs with an array of the shape "
                              f"to check)")


def generate(request: InputRequest, setting: Any, seed: int) -> tuple[Any, dict[str, Any]]:
    """The raw value the IR is fed for one input, and how it was made (for the report)."""
    import numpy as np

    dtype = np.dtype(request.dtype)
    rng = np.random.default_rng(seed)
    if isinstance(setting, Path):
        value = load_array(setting, request.names)
        if tuple(value.shape) != request.shape:
            raise VerifierUnavailable(f"verify_inputs: {setting} gives input {request.name!r} shape "
                                      f"{list(value.shape)}, the IR takes {list(request.shape)}")
        return value.astype(dtype), {"kind": "file", "file": str(setting), **_observed(value)}
    if isinstance(setting, Mapping):
        return _uniform(rng, request, dtype, setting["low"], setting["high"]), \
            {"kind": "uniform", "low": setting["low"], "high": setting["high"]}
    if dtype == np.bool_:
        return rng.integers(0, 2, size=request.shape).astype(np.bool_), {"kind": "bool"}
    if _is_image(request, dtype):
        low, high = _image_range(request, dtype)
        return structured_image(rng, request.shape, _channel_axis(request), low, high, dtype), \
            {"kind": "image", "low": low, "high": high}
    low, high = _default_range(request, dtype)
    return _uniform(rng, request, dtype, low, high), {"kind": "uniform", "low": low, "high": high}


def _observed(value) -> dict[str, Any]:
    import numpy as np

    if value.size == 0 or not np.issubdtype(value.dtype, np.number):
        return {}
    return {"low": float(value.min()), "high": float(value.max())}


def _uniform(rng, request: InputRequest, dtype, low: float, high: float):
    import numpy as np

    if np.issubdtype(dtype, np.floating):
        return rng.uniform(low, high, size=request.shape).astype(dtype)
    return rng.integers(int(np.ceil(low)), int(np.floor(high)), size=request.shape,
                        endpoint=True).astype(dtype)


def _channel_axis(request: InputRequest) -> int:
    return request.preprocessing.channel_axis % len(request.shape)


def _is_image(request: InputRequest, dtype) -> bool:
    """A batch of pictures: rank 4, 1/3/4 channels on the channel axis, pixels as floats or
    bytes, and more than a handful of pixels."""
    import numpy as np

    if len(request.shape) != 4 or not (np.issubdtype(dtype, np.floating) or dtype == np.uint8):
        return False
    axis = _channel_axis(request)
    spatial = [d for i, d in enumerate(request.shape[1:], 1) if i != axis]
    return request.shape[axis] in IMAGE_CHANNELS and min(spatial) >= 4


def _image_range(request: InputRequest, dtype) -> tuple[float, float]:
    """Raw pixels when the flags preprocess the input (or it takes bytes), else [-1, 1]."""
    import numpy as np

    if dtype == np.uint8 or request.preprocessing.changes_values:
        return PIXEL_RANGE
    return UNIT_RANGE


def _default_range(request: InputRequest, dtype) -> tuple[float, float]:
    """Integers: 0..255 for bytes, else small non-negative ones (indices, sizes). Floats: the
    range that the flags map onto [-1, 1] (mean +- scale), else [-1, 1]."""
    import numpy as np

    if not np.issubdtype(dtype, np.floating):
        return PIXEL_RANGE if dtype == np.uint8 else SMALL_INTEGERS
    pre = request.preprocessing
    if pre.mean is None and pre.scale is None:
        return UNIT_RANGE
    mean = pre.mean or (0.0,)
    scale = pre.scale or (1.0,)
    low = min(m - abs(s) for m in mean for s in scale)
    high = max(m + abs(s) for m in mean for s in scale)
    return low, high


def structured_image(rng, shape: tuple[int, ...], channel_axis: int, low: float, high: float, dtype):
    """A picture per batch item: channel c holds its own pattern (a horizontal gradient, a
    vertical gradient, a checkerboard of blocks, a diagonal), plus seeded noise; scaled to
    [low, high] and, for pixel ranges, rounded to whole values as a decoded image would be."""
    import numpy as np

    channels_last = np.moveaxis(np.zeros(shape, np.float64), channel_axis, -1)
    batch, height, width, channels = channels_last.shape
    rows = np.linspace(0.0, 1.0, height)[:, None] * np.ones((1, width))
    cols = np.ones((height, 1)) * np.linspace(0.0, 1.0, width)[None, :]
    block = max(2, min(height, width) // 4)
    checker = ((np.arange(height)[:, None] // block + np.arange(width)[None, :] // block) % 2) * 1.0
    patterns = [cols, rows, checker, (rows + cols) / 2]
    for b in range(batch):
        for c in range(channels):
            base = patterns[(c + b) % len(patterns)]
            if c >= len(patterns):
                base = 1.0 - base
            noise = rng.uniform(-0.1, 0.1, size=(height, width))
            channels_last[b, :, :, c] = np.clip(0.85 * base + 0.075 + noise, 0.0, 1.0)
    image = low + np.moveaxis(channels_last, -1, channel_axis) * (high - low)
    if (low, high) == PIXEL_RANGE or np.dtype(dtype) == np.uint8:
        image = np.round(image)
    return image.astype(dtype)
