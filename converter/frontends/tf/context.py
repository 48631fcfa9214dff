"""The TensorFlow node as a handler sees it, and the helpers handlers share."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...element_types import from_numpy
from ...graph import Graph, Output
from ..builders.layout import transpose
from ..common import NodeContext
from .tensors import numpy_type, shape_of, tensor_value

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


def decode_attr(value, where: str) -> Any:
    """An AttrValue as a plain Python value (str for bytes, tuple for shapes, arrays for tensors)."""
    kind = value.WhichOneof("value")
    if kind == "list":
        items = value.list
        for name in ("s", "i", "f", "b", "type", "shape", "tensor"):
            entries = getattr(items, name)
            if entries:
                return [_scalar(name, e, where) for e in entries]
        return []
    if kind is None:
        return None
    return _scalar(kind, getattr(value, kind), where)


def _scalar(kind: str, item: Any, where: str) -> Any:
    if kind == "s":
        return item.decode("utf-8", errors="replace")
    if kind == "shape":
        return shape_of(item)
    if kind == "tensor":
        return tensor_value(item, where)
    if kind in ("i", "type"):
        return int(item)
    return item


class TFNodeContext(NodeContext):
    """A NodeDef with its inputs translated; `model_input` is what the user said about it."""

    def __init__(self, graph: Graph, node_def, inputs: list[Output],
                 model_input: tuple[tuple[int, ...] | None, tuple[float, ...] | None] | None = None):
        where = f"{node_def.op} node {node_def.name!r}"
        attrs = {key: decode_attr(value, where) for key, value in node_def.attr.items()}
        super().__init__(graph, node_def.name, node_def.op, list(inputs), attrs)
        self.model_input = model_input

    def ints(self, values, dtype=np.int64) -> Output:
        return self.graph.const(np.asarray(values, dtype=dtype), name=f"{self.name}/const")

    def index_input(self, index: int) -> Output:
        """An integer input (axes, shapes, paddings) as an i64 constant when it is known."""
        value = self.const_value(index)
        if value is None:
            return self.input(index)
        return self.ints(value)

    def element_type(self, attr: str = "T") -> str:
        return from_numpy(numpy_type(self.attr(attr), f"{self.op_type} node {self.name!r}"))

    def transpose(self, data: Output, perm, suffix: str) -> Output:
        return transpose(self.graph, data, perm, f"{self.name}/{suffix}", f"{self.name}/const")

    def is_nhwc(self) -> bool:
        layout = self.attr("data_format", "NHWC")
        if layout not in ("NHWC", "NCHW"):
            raise self.error(f"data_format {layout} is not supported (only NHWC and NCHW)")
        return layout == "NHWC"

    def spatial(self, values: list[int], nhwc: bool) -> list[int]:
        """The spatial entries (H, W) of a 4-element NHWC or NCHW attribute."""
        return list(values[1:3]) if nhwc else list(values[2:4])
