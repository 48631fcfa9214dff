"""Fold SpaceToBatch -> convolution -> BatchToSpace, as TensorFlow 1 wrote dilated
(atrous) convolutions, back into one dilated convolution.

Before: SpaceToBatch(x, block b, pads P) -> [Transpose p] -> Convolution(W, stride 1, pads c)
        -> [Transpose q] -> BatchToSpace(block b, crops C)
After:  [Transpose p](x) -> Convolution(W, dilation b, pads P + b * c - C) -> [Transpose q]

Why it holds: SpaceToBatch cuts the padded input into b x b interleaved grids and stacks them
in the batch; a convolution of one grid reads every b-th pixel, which is what the dilated
convolution reads around that grid's pixels; BatchToSpace interleaves the results back and
crops C, which trims the same rows the smaller pads leave out. (GroupConvolution likewise.)
The layout Transposes a frontend puts around an NCHW convolution of NHWC data may sit between
the three; a Transpose made here that meets its inverse (the one feeding SpaceToBatch, or one
reading BatchToSpace) cancels with it, so no layout Transposes are left where the trio stood.

The 1-D form (a dilated Conv1D): TensorFlow runs it as a 2-D convolution of a unit axis, so an
Unsqueeze follows the rank-3 SpaceToBatch and a Squeeze of the same axes comes before the
BatchToSpace: SpaceToBatch -> Unsqueeze a -> [Transpose p] -> Convolution -> [Transpose q] ->
Squeeze a -> BatchToSpace folds into Unsqueeze a -> [Transpose p] -> Convolution(dilation b)
-> [Transpose q] -> Squeeze a, the unit axis taking block 1 and no pads. A zero Pad feeding
the SpaceToBatch (Keras' causal padding) folds into the convolution's pads too.
Skipped when a pad would come out negative, the convolution is strided, or an intermediate
result has another consumer.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from ._sweeps import single_reader

CONVOLUTIONS = ("Convolution", "GroupConvolution")


def run(graph: Graph, options=None) -> int:
    uses = graph.consumers()
    sweep = graph.sweep()
    made: set[int] = set()  # the Transposes this pass created, which may cancel a neighbour
    rewrites = 0
    for node in sweep:
        if node.op == "BatchToSpace":
            folded = _fold(graph, node, uses, made)
            if folded is not None:
                sweep.replace(node.output(), folded)
                rewrites += 1
        elif node.op == "Transpose" and id(node.inputs[0].node) in made:
            inner = _cancelled(node.inputs[0], _order(node.output()))
            if inner is not None:
                sweep.replace(node.output(), inner)
    return rewrites


def _order(output: Output) -> list[int] | None:
    """The constant order of a Transpose output, else None."""
    node = output.node
    if node.op != "Transpose" or node.inputs[1].value is None:
        return None
    return [int(v) for v in np.ravel(node.inputs[1].value)] or None


def _cancelled(source: Output, order: list[int] | None) -> Output | None:
    """What `Transpose(source, order)` is, when `source` is a Transpose by the inverse order."""
    inner = _order(source)
    if order is None or inner is None or len(inner) != len(order):
        return None
    return source.node.inputs[0] if [inner[i] for i in order] == list(range(len(order))) else None


def _only_use(output: Output, uses: dict) -> bool:
    return single_reader(output.node, uses) and len(output.node.outputs) == 1


def _skip_transpose(output: Output, uses: dict) -> tuple[Output, list[int] | None]:
    """(what a single-use layout Transpose reads, its order), or (output, None) for no Transpose."""
    order = _order(output)
    if order is None or not _only_use(output, uses):
        return output, None
    return output.node.inputs[0], order


def _ints(output: Output) -> list[int] | None:
    return None if output.value is None else [int(v) for v in np.ravel(output.value)]


def _fold(graph: Graph, b2s: Node, uses: dict, made: set[int]) -> Output | None:
    """The dilated convolution `b2s` (a BatchToSpace) computes, or None if it is not the end of
    a SpaceToBatch -> convolution -> BatchToSpace trio that folds."""
    squeezed, unit_axes = _skip_unit_axes(b2s.inputs[0], "Squeeze", uses)
    conv_out, after = _skip_transpose(squeezed, uses)
    conv = conv_out.node
    if conv.op not in CONVOLUTIONS or not _only_use(conv_out, uses):
        return None
    rank = len(conv_out.shape or ())
    unsqueezed, before = _skip_transpose(conv.inputs[0], uses)
    s2b_out, input_axes = _skip_unit_axes(unsqueezed, "Unsqueeze", uses)
    s2b = s2b_out.node
    if s2b.op != "SpaceToBatch" or not _only_use(s2b_out, uses) or \
            _normalized(input_axes, rank) != _normalized(unit_axes, rank):
        return None
    axes = _normalized(unit_axes, rank) or []
    before = before or list(range(rank))
    after = after or list(range(rank))
    data, padding = _zero_padding(s2b.inputs[0], uses)
    window = _dilated_window(conv, _trio_blocks(s2b, b2s, padding, axes, rank), before, after,
                             rank)
    if window is None:
        return None
    if axes:
        data = graph.op("Unsqueeze", data, _axes_const(graph, axes, conv.name),
                        name=f"{conv.name}/unit_axis")
    if before != list(range(rank)):
        data = _transpose(graph, data, before, f"{conv.name}/to_nchw", made)
    attrs = {**conv.attrs, **window}
    result = graph.add(conv.op, [data, conv.inputs[1]], attrs, name=conv.name).output()
    if after != list(range(rank)):
        result = _transpose(graph, result, after, f"{conv.name}/to_nhwc", made)
    if axes:
        result = graph.op("Squeeze", result, _axes_const(graph, axes, conv.name),
                          name=f"{conv.name}/unit_axis_removed")
    if b2s.outputs[0].shape != result.shape and -1 not in (b2s.outputs[0].shape or (-1,)):
        return None  # a pattern the formula does not cover: leave the trio as it was
    return result


def _skip_unit_axes(output: Output, op: str, uses: dict) -> tuple[Output, list[int] | None]:
    """(what a single-use Squeeze or Unsqueeze (`op`) of constant axes reads, its axes), or
    (output, None) when `output` is not one."""
    node = output.node
    if node.op != op or len(node.inputs) != 2 or not _only_use(output, uses):
        return output, None
    axes = _ints(node.inputs[1])
    return (output, None) if axes is None else (node.inputs[0], axes)


def _normalized(axes: list[int] | None, rank: int) -> list[int] | None:
    """Axes of a rank-`rank` tensor counted from 0, sorted; None stays None."""
    return None if axes is None else sorted(a + rank if a < 0 else a for a in axes)


def _axes_const(graph: Graph, axes: list[int], name: str) -> Output:
    return graph.const(np.asarray(axes, dtype=np.int64), name=f"{name}/unit_axes")


def _zero_padding(data: Output, uses: dict) -> tuple[Output, tuple[list[int], list[int]] | None]:
    """(what a single-use Pad of zeros reads, (pads begin, pads end)) when `data` is such a Pad
    with non-negative constant pads, as Keras' causal padding writes; else (data, None). The
    convolution pads with zeros too, so the Pad's pads join SpaceToBatch's."""
    node = data.node
    if node.op != "Pad" or node.attrs.get("pad_mode", "constant") != "constant" \
            or not _only_use(data, uses):
        return data, None
    begin, end = _ints(node.inputs[1]), _ints(node.inputs[2])
    fill = node.inputs[3].value if len(node.inputs) > 3 else 0
    if begin is None or end is None or fill is None or np.any(np.asarray(fill) != 0) \
            or min(begin + end) < 0:
        return data, None
    return node.inputs[0], (begin, end)


def _trio_blocks(s2b: Node, b2s: Node, padding, unit_axes: list[int], rank: int) -> list | None:
    """[block, pads begin, pads end, block back, crops begin, crops end] of the trio on the
    convolution's rank (the unit axes get block 1, no pads, no crops), a Pad's pads added to
    SpaceToBatch's; None when one is not constant or its length does not fit."""
    blocks = [_ints(s) for s in s2b.inputs[1:4]] + [_ints(s) for s in b2s.inputs[1:4]]
    if any(v is None or len(v) + len(unit_axes) != rank for v in blocks):
        return None
    if padding is not None:
        if any(len(p) != len(blocks[1]) for p in padding):
            return None
        blocks[1] = [a + b for a, b in zip(blocks[1], padding[0])]
        blocks[2] = [a + b for a, b in zip(blocks[2], padding[1])]
    for axis in unit_axes:
        for values, unit in zip(blocks, (1, 0, 0, 1, 0, 0)):
            values.insert(axis, unit)
    return blocks


def _transpose(graph: Graph, data: Output, order: list[int], name: str, made: set[int]) -> Output:
    """`data` transposed by `order`, or what feeds `data` when it is a Transpose by the inverse."""
    inner = _cancelled(data, order)
    if inner is not None:
        return inner
    perm = graph.const(np.asarray(order, dtype=np.int64), name=f"{name}/order")
    output = graph.op("Transpose", data, perm, name=name)
    made.add(id(output.node))
    return output


def _dilated_window(conv: Node, blocks: list | None, before: list[int], after: list[int],
                    rank: int) -> dict | None:
    """dilations, pads_begin, pads_end of the folded convolution, or None when it does not fold.

    `blocks` are the trio's (`_trio_blocks`). Convolution axis j reads SpaceToBatch's axis
    before[j]; BatchToSpace's axis i reads the convolution's axis after[i]."""
    if blocks is None or rank < 3:
        return None
    block, pads_begin, pads_end, block_back, crops_begin, crops_end = blocks
    attrs = conv.attrs
    if attrs.get("auto_pad", "explicit") not in ("explicit", "valid", "notset"):
        return None
    valid = attrs.get("auto_pad") == "valid"
    spatial = rank - 2
    conv_pads = (([0] * spatial, [0] * spatial) if valid
                 else (attrs["pads_begin"], attrs["pads_end"]))
    if any(s != 1 for s in attrs["strides"]):
        return None
    back = {j: i for i, j in enumerate(after)}  # convolution axis -> BatchToSpace axis
    for j in (0, 1):  # batch and channels: no blocks, pads or crops
        a, i = before[j], back[j]
        if (block[a], block_back[i], pads_begin[a], pads_end[a], crops_begin[i],
                crops_end[i]) != (1, 1, 0, 0, 0, 0):
            return None
    dilations, begin, end = [], [], []
    for k in range(spatial):
        a, i = before[2 + k], back[2 + k]
        b = block[a]
        if block_back[i] != b:
            return None
        dilations.append(attrs["dilations"][k] * b)
        begin.append(pads_begin[a] + b * conv_pads[0][k] - crops_begin[i])
        end.append(pads_end[a] + b * conv_pads[1][k] - crops_end[i])
    if min(begin + end) < 0:
        return None
    return {"dilations": dilations, "pads_begin": begin, "pads_end": end, "auto_pad": "explicit"}
