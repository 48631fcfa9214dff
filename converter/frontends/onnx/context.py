"""How an ONNX handler sees its node, and constant evaluation of the inputs it needs constant."""
from __future__ import annotations

from typing import Any

from ...graph import Graph, Node, Output
from ..builders.constants import scalar_like
from ..common import NodeContext


class OnnxNodeContext(NodeContext):
    """A NodeContext with ONNX attribute defaults and access to constant inputs."""

    def __init__(self, graph: Graph, name: str, op_type: str, inputs: list[Output | None],
                 attrs: dict[str, Any], opset: int, num_outputs: int,
                 memo: dict[int, tuple[Node, list | None]]):
        super().__init__(graph, name, op_type, inputs, attrs, opset, num_outputs, memo)

    def ints(self, name: str, default: list[int] | None = None) -> list[int] | None:
        value = self.attrs.get(name)
        return default if value is None else [int(v) for v in value]

    def const_input(self, index: int) -> Output:
        """Input `index`, replaced by a Const when its value is known, so that the ops fed with
        it infer static shapes."""
        value = self.const_value(index)
        source = self.input(index)
        if value is None or source.node.op == "Const":
            return source
        return self.const(value)

    def scalar(self, value: float, like: Output) -> Output:
        """A scalar constant of the element type of `like`."""
        return scalar_like(self.graph, value, like, name=f"{self.name}/const")

    def axis(self, value: int, rank: int | None) -> int:
        """`value` as a non-negative axis of a tensor of rank `rank`."""
        if rank is None:
            if value < 0:
                raise self.error(f"axis {value} needs the input's rank, which is unknown")
            return value
        if not -rank <= value < rank:
            raise self.error(f"axis {value} is out of range for rank {rank}")
        return value % rank
