"""Fold a Pad of the spatial axes into the pads of the window op reading it.

Before: x -> Pad(begin [0,0,1,1], end [0,0,1,1], 0.0) -> Convolution(pads 0)
After:  x -> Convolution(pads_begin [1,1], pads_end [1,1])

Before: x -> ReLU -> Pad(0.0) -> MaxPool(3x3, stride 2)   (Keras ZeroPadding2D + MaxPooling2D)
After:  x -> ReLU -> MaxPool(3x3, stride 2, pads 1)

A window op reads its data's NCHW spatial axes and pads them itself; the Pad (constant mode,
non-negative pads on the spatial axes only) folds when the result is the same:
- Convolution, GroupConvolution: they pad with zeros, so the Pad's value must be exactly 0;
- MaxPool: padding never wins a maximum, so the Pad's value must never win either: -inf, or a
  value <= 0 when the data is a ReLU's (or a Clamp's from >= 0); each window must still hold a
  real element (every pad shorter than the window), and the indices output must be unused;
- AvgPool: a zero Pad is averaged in, which is AvgPool's `exclude-pad = false`; it folds when the
  pool had no pads of its own or already counted them (exclude-pad false).
Windows with `auto_pad` same_upper/same_lower, and pools rounding up, are left as they are. The
window op must produce the same shape as before; the Pad stays only for its other readers.
Runs after transpose_sinking, which moves a TensorFlow model's NHWC Pads into NCHW. Skipped
with --disable_fusing; a Pad or window op named by --finegrain_fusing stays as it was (a Pad
read by several windows folds into those that are not named, and stays for those that are).
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from ._fusing import FusingGuard, fusing_guard

WINDOWS = ("Convolution", "GroupConvolution", "MaxPool", "AvgPool")


def run(graph: Graph, options=None) -> int:
    guard = fusing_guard(options)
    index_readers = _read_index_outputs(graph)
    sweep = graph.sweep()
    folded = 0
    for node in sweep:
        if node.op not in WINDOWS or node.inputs[0].node.op != "Pad":
            continue
        if node.op == "MaxPool" and id(node) in index_readers:
            continue
        replacement = _folded(graph, node, guard)
        if replacement is None:
            continue
        for index in range(len(node.outputs)):
            sweep.replace(node.output(index), replacement.output(index))
        folded += 1
    return folded


def _read_index_outputs(graph: Graph) -> set[int]:
    """ids of the MaxPools whose indices output (1) something reads."""
    return {id(source.node) for node in graph.nodes() for source in node.inputs
            if source.node.op == "MaxPool" and source.index == 1}


def _spatial_pads(pad: Node) -> tuple[list[int], list[int]] | None:
    """The Pad's (begin, end) on the spatial axes 2.., when it pads nothing else."""
    if pad.attrs.get("pad_mode", "constant") != "constant":
        return None
    begin, end = pad.inputs[1].value, pad.inputs[2].value
    if begin is None or end is None:
        return None
    begin, end = [int(v) for v in np.ravel(begin)], [int(v) for v in np.ravel(end)]
    if len(begin) < 3 or any(begin[:2]) or any(end[:2]) or min(begin + end) < 0:
        return None
    return begin[2:], end[2:]


def _pad_value(pad: Node) -> float | None:
    if len(pad.inputs) < 4:
        return 0.0
    value = pad.inputs[3].value
    return None if value is None or value.size != 1 else float(np.ravel(value)[0])


def _folded(graph: Graph, node: Node, guard: FusingGuard) -> Node | None:
    pad = node.inputs[0].node
    pads = _spatial_pads(pad)
    value = _pad_value(pad)
    if pads is None or value is None:
        return None
    attrs = dict(node.attrs)
    auto_pad = attrs.get("auto_pad", "explicit")
    if auto_pad not in ("explicit", "valid"):
        return None
    spatial = len(pads[0])
    own_begin = [0] * spatial if auto_pad == "valid" else list(attrs["pads_begin"])
    own_end = [0] * spatial if auto_pad == "valid" else list(attrs["pads_end"])
    if not _window_accepts(node, pad, value, pads, any(own_begin + own_end)):
        return None
    attrs["auto_pad"] = "explicit"
    attrs["pads_begin"] = [a + b for a, b in zip(own_begin, pads[0])]
    attrs["pads_end"] = [a + b for a, b in zip(own_end, pads[1])]
    if node.op == "AvgPool":
        attrs["exclude-pad"] = False
    if node.op in ("MaxPool", "AvgPool") and not _pads_shorter_than_window(node, attrs):
        return None
    if not guard.allows(pad, node):
        return None
    inputs = [pad.inputs[0], *node.inputs[1:]]
    folded = graph.add(node.op, inputs, attrs, name=node.name, num_outputs=len(node.outputs))
    if [o.shape for o in folded.outputs] != [o.shape for o in node.outputs]:
        return None
    return folded


def _window_accepts(node: Node, pad: Node, value: float, pads, has_own_pads: bool) -> bool:
    """The window pads with what the Pad would have added (see the module's docstring)."""
    if node.op in ("Convolution", "GroupConvolution"):
        return value == 0.0
    if node.attrs.get("rounding_type", "floor") != "floor":
        return False
    if node.op == "AvgPool":
        return value == 0.0 and (not has_own_pads or not node.attrs.get("exclude-pad", False))
    return value == -np.inf or (value <= 0.0 and _never_negative(pad.inputs[0]))


def _never_negative(output: Output) -> bool:
    node = output.node
    if node.op == "ReLU":
        return True
    if node.op == "Clamp":
        return float(node.attrs.get("min", -np.inf)) >= 0.0
    return False


def _pads_shorter_than_window(node: Node, attrs: dict) -> bool:
    """Every window of the pool still holds an element of the data."""
    dilations = node.attrs.get("dilations") or [1] * len(node.attrs["kernel"])
    extents = [d * (k - 1) + 1 for k, d in zip(node.attrs["kernel"], dilations)]
    return all(b < e and f < e for b, f, e in zip(attrs["pads_begin"], attrs["pads_end"], extents))
