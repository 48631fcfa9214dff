"""Walking protobuf messages at the wire level, by offsets into one buffer.

Both frontends read model files whose weights dwarf everything else (an ONNX ModelProto, a
TensorFlow GraphDef). Parsing such a file with protobuf holds its bytes and the parsed copy of
every weight at once. Instead the file is mapped (`mapped_file`), its messages are walked here
without parsing them, and only the fields that hold large tensor bytes are replaced
(`rewrite`); protobuf then parses what is left, which is small.

Wire format: a message is a sequence of fields, each a varint tag (field number << 3 | wire
type) and a payload. Wire type 0 is a varint, 1 eight bytes, 5 four bytes, 2 length-delimited
(a varint length, then that many bytes: strings, bytes, nested messages and packed repeated
fields). A concatenation of fields is itself a valid message, so a message can be rebuilt from
the kept pieces of the original and new fields spliced in between.
"""
from __future__ import annotations

import mmap
import os
from contextlib import contextmanager
from typing import Callable, Iterator, NamedTuple, Union

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
_FIXED_SIZES = {FIXED64: 8, FIXED32: 4}
_MAX_VARINT_BYTES = 10

# Anything that indexes to ints and slices to bytes-like objects: bytes, mmap.mmap.
Buffer = Union[bytes, bytearray, mmap.mmap]


class WireFormatError(ValueError):
    """The bytes are not a well-formed protobuf message (a truncated or foreign file)."""


class Field(NamedTuple):
    """One field of a message, located in the buffer it was read from."""

    number: int
    wire_type: int
    start: int     # where its tag begins
    payload: int   # where its payload begins (past the length, for LENGTH_DELIMITED)
    end: int       # one past its last byte

    @property
    def size(self) -> int:
        """The payload's length in bytes."""
        return self.end - self.payload


def read_varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it; it must end before `end`."""
    value = shift = 0
    for index in range(pos, min(end, pos + _MAX_VARINT_BYTES)):
        byte = buf[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    if end - pos >= _MAX_VARINT_BYTES:
        raise WireFormatError(f"a varint at byte {pos} is longer than {_MAX_VARINT_BYTES} bytes")
    raise WireFormatError(f"the data ends in the middle of a varint at byte {pos}")


def encode_varint(value: int) -> bytes:
    """`value` (non-negative) as a varint."""
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def length_delimited(number: int, payload: bytes) -> bytes:
    """A whole length-delimited field: tag, length and `payload`."""
    return encode_varint(number << 3 | LENGTH_DELIMITED) + encode_varint(len(payload)) + payload


def fields(buf: Buffer, start: int, end: int) -> Iterator[Field]:
    """The fields of the message held in `buf[start:end]`, in the order they are stored."""
    pos = start
    while pos < end:
        tag, payload = read_varint(buf, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise WireFormatError(f"field number 0 at byte {pos} (not a protobuf message)")
        if wire_type == VARINT:
            field_end = read_varint(buf, payload, end)[1]
        elif wire_type in _FIXED_SIZES:
            field_end = payload + _FIXED_SIZES[wire_type]
        elif wire_type == LENGTH_DELIMITED:
            length, payload = read_varint(buf, payload, end)
            field_end = payload + length
        else:
            raise WireFormatError(f"unsupported wire type {wire_type} at byte {pos}")
        if field_end > end:
            raise WireFormatError(f"field {number} at byte {pos} runs past the end of its "
                                  f"message (byte {end}): the data is truncated")
        yield Field(number, wire_type, pos, payload, field_end)
        pos = field_end


Replacement = Callable[[Field], Union[bytes, None]]


def rewrite(buf: Buffer, start: int, end: int, replace: Replacement) -> bytes | None:
    """The message in `buf[start:end]` with some fields replaced, or None if none was.

    `replace(field)` returns the new encoding of the whole field (tag included; b"" drops it)
    or None to keep it as it is. Kept runs of fields are copied in one slice each."""
    pieces: list[bytes] = []
    copied = start
    for field in fields(buf, start, end):
        new = replace(field)
        if new is None:
            continue
        pieces += [buf[copied:field.start], new]
        copied = field.end
    if not pieces:
        return None
    pieces.append(buf[copied:end])
    return b"".join(pieces)


def rewrite_nested(buf: Buffer, field: Field, replace: Replacement) -> bytes | None:
    """A length-delimited `field` holding a message, rewritten by `rewrite`: the whole new
    field, or None when nothing in it changed."""
    new = rewrite(buf, field.payload, field.end, replace)
    return None if new is None else length_delimited(field.number, new)


@contextmanager
def mapped_file(path: str | os.PathLike) -> Iterator[Buffer]:
    """The file's bytes mapped read-only (pages are read when touched, so fields that are
    skipped never load); an empty file is b"" (mmap refuses those), and a file its file system
    cannot map is read whole."""
    with open(path, "rb") as stream:
        if os.fstat(stream.fileno()).st_size == 0:
            yield b""
            return
        try:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            yield stream.read()
            return
        with mapped:
            yield mapped
