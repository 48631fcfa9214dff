"""TF1 `tf.cond` outside loops: Switch and Merge with a predicate known at conversion time.

The loops' own Enter/Merge/Switch/NextIteration/Exit are unrolled by `..control_flow`; a Switch
that is not part of a loop routes its data to output 1 when the predicate holds, to output 0
otherwise, and leaves the other output DEAD; a Merge forwards its one live input.
"""
from __future__ import annotations

import numpy as np

from ..context import TFNodeContext
from ..control_flow import DEAD
from . import registry


@registry.register("Switch", "RefSwitch")
def switch(ctx: TFNodeContext):
    predicate = ctx.const_value(1)
    if predicate is None:
        raise ctx.error("its predicate depends on the model's inputs: a tf.cond is converted "
                        "only when the branch it takes is known at conversion time")
    data = ctx.input(0)
    return [DEAD, data] if bool(np.ravel(predicate)[0]) else [data, DEAD]


@registry.register("Merge", "RefMerge")
def merge(ctx: TFNodeContext):
    """Outputs: the live input and its index."""
    live = [(i, value) for i, value in enumerate(ctx.inputs) if value is not DEAD]
    if not live:
        return [DEAD, DEAD]
    if len(live) > 1:
        raise ctx.error("more than one of its inputs is computed: a Merge outside a while loop "
                        "must follow a Switch whose predicate is known at conversion time")
    index, value = live[0]
    return [value, ctx.graph.const(np.asarray(index, np.int32), name=f"{ctx.name}/value_index")]
