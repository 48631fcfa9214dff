"""Edits of the model's inputs that flags ask for, made between the frontend and the passes
(the passes may not change the model's interface; these flags do, on purpose).

--nhwc_to_nchw: the Model Optimizer converted a TensorFlow model to NCHW, its IR inputs declared
[N, C, H, W]. Asked for, each 4-D input of an NHWC source becomes NCHW and a Transpose back to
NHWC feeds what read it; transpose sinking then cancels it against the layout Transposes the
frontend put around NCHW-only ops, so the IR holds no more Transposes than before.

Before: Parameter x [1,224,224,3] -> Convolution...
After:  Parameter x [1,3,224,224] -> Transpose(0,2,3,1) -> Convolution...
"""
from __future__ import annotations

import logging

from .errors import UserInputError
from .graph import Graph, Node

log = logging.getLogger(__name__)

NCHW_TO_NHWC = (0, 2, 3, 1)


def declare_inputs_nchw(graph: Graph, options) -> list[str]:
    """Make every 4-D input of an NHWC graph NCHW; return the names of those changed."""
    if graph.source_layout != "NHWC":
        return []
    changed = [node for node in graph.parameters
               if node.outputs[0].shape is not None and len(node.outputs[0].shape) == 4]
    consumers = graph.consumers()
    for parameter in changed:
        _to_nchw(graph, parameter, consumers.get(id(parameter), []))
    if changed:
        log.info("inputs declared NCHW: %s", ", ".join(p.name for p in changed))
        _settle_channel_axis(graph, options)
    return [p.name for p in changed]


def _settle_channel_axis(graph: Graph, options) -> None:
    """Mean/scale/reverse-channels find the channel axis by the graph's source layout: axis 1
    now for the 4-D inputs, and for 2-D ones (their last axis), not for 3-D or 5-D ones."""
    other = [p.name for p in graph.parameters if p.outputs[0].shape is not None
             and len(p.outputs[0].shape) in (3, 5)]
    if not other:
        graph.source_layout = "NCHW"
    elif options.mean_values or options.scale_values or options.scale is not None \
            or options.reverse_input_channels:
        raise UserInputError(f"--nhwc_to_nchw with mean/scale values or reversed channels needs "
                             f"the model's inputs of rank 3 or more to be 4-D images, but "
                             f"{', '.join(other)} are not; leave --nhwc_to_nchw out")


def _to_nchw(graph: Graph, parameter: Node, uses: list[tuple[Node, int]]) -> None:
    info = parameter.outputs[0]
    n, h, w, c = info.shape
    info.shape = (n, c, h, w)
    order = graph.const(list(NCHW_TO_NHWC), name=f"{parameter.name}/to_nhwc/order", dtype="int64")
    back = graph.op("Transpose", parameter.output(), order, name=f"{parameter.name}/to_nhwc")
    graph.reconnect([(node, index) for node, index in uses
                     if node.inputs[index] == parameter.output()], back)
