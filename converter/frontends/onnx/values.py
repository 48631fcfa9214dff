"""The values an ONNX tensor name can carry during translation besides a tensor (`Output`).

OpenVINO IR has no sequence or optional type, so the frontend keeps them itself: a sequence
is a static tuple of tensors (its length known at conversion time), an optional is a value or
nothing. They only live between ONNX nodes; a model input or output of these types, or a
sequence whose length depends on the model's inputs, cannot be converted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ...graph import Output


@dataclass(frozen=True)
class SequenceValue:
    """An ONNX sequence: its tensors in order; `element_type` is kept for empty sequences."""

    items: tuple[Output, ...]
    element_type: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    def with_items(self, items) -> "SequenceValue":
        return SequenceValue(tuple(items), self.element_type)


@dataclass(frozen=True)
class OptionalValue:
    """An ONNX optional: a tensor or sequence, or None when empty."""

    value: Union[Output, SequenceValue, None]


Value = Union[Output, SequenceValue, OptionalValue]


def kind_of(value) -> str:
    """What a value is, as an error message says it."""
    if isinstance(value, SequenceValue):
        return "a sequence"
    if isinstance(value, OptionalValue):
        return "an optional"
    return "a tensor"
