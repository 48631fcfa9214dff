"""How a constant's values are laid out as bytes in the IR's .bin.

Most element types are stored as numpy holds them (little-endian, one element after the
other). The 4-bit types (i4, u4, f4e2m1) are packed two elements to a byte, the first element
in the low nibble, the last byte padded with a zero nibble, exactly as OpenVINO's own
`save_model` writes them (checked by round-tripping constants through openvino).
"""
from __future__ import annotations

import numpy as np

from .. import element_types


def bin_bytes(array: np.ndarray, element_type: str) -> np.ndarray:
    """The bytes `array` (of `element_type`) takes in the .bin, as a flat uint8 array."""
    data = np.ascontiguousarray(array)
    if element_types.bits(element_type) == 4:
        return pack_nibbles(data.view(np.uint8).reshape(-1))
    return data.reshape(-1).view(np.uint8)


def pack_nibbles(values: np.ndarray) -> np.ndarray:
    """Bytes of one element each (the 4-bit value in the low nibble) packed two to a byte."""
    nibbles = values.astype(np.uint8) & 0x0F
    if nibbles.size % 2:
        nibbles = np.append(nibbles, np.uint8(0))
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)


def unpack_nibbles(packed: np.ndarray, count: int) -> np.ndarray:
    """The inverse of `pack_nibbles`: `count` elements, one 4-bit value per byte."""
    pairs = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(-1)
    return pairs[:count].astype(np.uint8)
