"""OpenVINO operations the converter can emit: opset version, attributes, shape inference,
and (for constant folding) a numpy evaluation.

Each op is a small class registered under its IR type by `@register`; a module per family of
ops. Adding an op means adding a class here and a handler in a frontend, nothing else.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import ConversionError, InternalError, NodeRef, ShapeMismatchError, describe
from ..graph import Node, Shape

OutputTypes = list[tuple[Shape, str | None]]


class OpSpec:
    """Base of every op: `infer` gives (shape, element type) per output; `evaluate`, when
    defined, computes the outputs from constant inputs for constant folding."""

    type: ClassVar[str]
    version: ClassVar[str] = "opset1"
    attributes: ClassVar[tuple[str, ...]] = ()  # in the order the XML writes them

    @staticmethod
    def infer(node: Node) -> OutputTypes:
        raise NotImplementedError

    evaluate: ClassVar[Any] = None  # (node, list[np.ndarray]) -> list[np.ndarray]

    @classmethod
    def fold(cls, node: Node) -> list[np.ndarray] | None:
        """The node's outputs as constants when they can be known now, else None."""
        if cls.evaluate is None or not all(s.node.op == "Const" for s in node.inputs):
            return None
        return cls.evaluate(node, [s.node.value for s in node.inputs])


class ShapedLikeInput(OpSpec):
    """An op whose one output has its first input's shape and element type."""

    @staticmethod
    def infer(node: Node) -> OutputTypes:
        return [(node.inputs[0].shape, node.inputs[0].element_type)]


OPS: dict[str, type[OpSpec]] = {}


def register(cls: type[OpSpec]) -> type[OpSpec]:
    if cls.type in OPS:
        raise InternalError(f"op {cls.type} registered twice")
    OPS[cls.type] = cls
    return cls


def spec(op_type: str) -> type[OpSpec]:
    try:
        return OPS[op_type]
    except KeyError:
        raise InternalError(f"no OpenVINO op {op_type!r} is defined in converter.ops") from None


def infer_node(node: Node) -> None:
    """Set the shape and element type of each output of `node` from its inputs.

    An op's own shape check failing (ValueError) means the shapes reaching it do not fit: the
    model's fault while a frontend translates it (a pass that breaks shapes is reported as a bug
    by the pass runner); any other failure is a bug of the op's inference."""
    try:
        inferred = spec(node.op).infer(node)
    except ValueError as exc:
        raise ShapeMismatchError(f"the input shapes {_input_shapes(node)} do not fit ({exc})",
                                 node=NodeRef(node.op, node.name)) from exc
    except ConversionError as exc:
        raise exc.locate(node=NodeRef(node.op, node.name))
    except Exception as exc:
        raise InternalError(f"shape inference with input shapes {_input_shapes(node)} raised "
                            f"{describe(exc)}", node=NodeRef(node.op, node.name)) from exc
    for info, (shape, element_type) in zip(node.outputs, inferred):
        info.shape = None if shape is None else tuple(int(d) for d in shape)
        info.element_type = element_type


def _input_shapes(node: Node) -> list:
    return [list(s.shape) if s.shape is not None else None for s in node.inputs]


# The op families; importing them fills OPS.
from . import basic, elementwise, convolution, pooling, reduction, shape_ops, linear  # noqa: E402,F401
from . import activation, data_movement  # noqa: E402,F401
from . import strided_slice  # noqa: E402,F401
from . import logical, numeric, selection  # noqa: E402,F401
from . import detection  # noqa: E402,F401
# The families added for the ONNX conformance suite.
from . import normalization, sorting, attention, gather_scatter  # noqa: E402,F401
from . import tensor_more, resize, sampling, signal, nms, recurrent, control_flow  # noqa: E402,F401
from . import fused  # noqa: E402,F401  (ops only the fusion passes emit)
