"""Operators that draw random numbers: Bernoulli, Multinomial, RandomUniform(Like) and
RandomNormal(Like). OpenVINO's generators cannot reproduce the draws of the framework the model
comes from, so a converted model could never give the source model's outputs, and verification
against it would always fail. Their handlers exist so that such a model fails at conversion
with that reason, naming the node, instead of as an operator the converter does not know."""
from __future__ import annotations

from ..context import OnnxNodeContext
from . import registry

RANDOM_OPS = ("Bernoulli", "Multinomial", "RandomUniform", "RandomUniformLike", "RandomNormal",
              "RandomNormalLike")


@registry.register(*RANDOM_OPS)
def random_op(ctx: OnnxNodeContext):
    raise ctx.error(f"{ctx.op_type} draws random numbers, which OpenVINO cannot reproduce "
                    f"(its generator differs from the source framework's), so the converter "
                    f"does not convert random operators: give the model its random values as "
                    f"an input, or export it without them")
