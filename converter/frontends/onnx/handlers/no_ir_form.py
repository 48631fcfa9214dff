"""Operators whose values OpenVINO IR cannot hold: the string operators (IR tensors are
numeric) and training's Gradient (IR describes inference, not differentiation). Their
handlers exist so that a model using them fails with the reason, naming the node, instead of
being reported as using an operator the converter does not know."""
from __future__ import annotations

from ..context import OnnxNodeContext
from . import registry

STRING_OPS = ("StringNormalizer", "StringSplit", "StringConcat", "RegexFullMatch")


@registry.register(*STRING_OPS)
def string_op(ctx: OnnxNodeContext):
    raise ctx.error(f"{ctx.op_type} works on string tensors, which OpenVINO IR cannot hold "
                    f"(IR tensors are numeric)")


@registry.register("ai.onnx.preview.training.Gradient")
def gradient(ctx: OnnxNodeContext):
    raise ctx.error("Gradient computes derivatives for training; OpenVINO IR describes "
                    "inference only, so it has no equivalent: export the model without it")
