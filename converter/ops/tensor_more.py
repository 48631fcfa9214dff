"""Ops that rearrange, generate or analyse whole tensors: DepthToSpace, SpaceToDepth, Eye,
NonZero, Unique, ReverseSequence and Col2Im."""
import numpy as np

from ..element_types import to_numpy
from ._shapes import const_ints, normalize_axis
from . import OpSpec, ShapedLikeInput, register


class _BlockMove(OpSpec):
    """Moves blocks of `block_size` between the channel axis (1) and the spatial axes."""

    attributes = ("block_size", "mode")
    to_space: bool

    @classmethod
    def infer(cls, node):
        data = node.inputs[0]
        if data.shape is None:
            return [(None, data.element_type)]
        block = node.attrs["block_size"]
        spatial = len(data.shape) - 2
        n, c, *dims = data.shape
        factor = block ** spatial
        if cls.to_space:
            channels = -1 if c == -1 else c // factor
            dims = [-1 if d == -1 else d * block for d in dims]
        else:
            channels = -1 if c == -1 else c * factor
            dims = [-1 if d == -1 else d // block for d in dims]
        return [((n, channels, *dims), data.element_type)]


@register
class DepthToSpace(_BlockMove):
    """DepthToSpace-1: blocks_first reads the channels as [block, block, C'] (ONNX DCR),
    depth_first as [C', block, block] (ONNX CRD)."""

    type = "DepthToSpace"
    to_space = True

    @staticmethod
    def evaluate(node, values):
        data = values[0]
        if data.ndim != 4:
            raise ValueError("DepthToSpace is evaluated for 4-D data only")
        block, (n, c, h, w) = node.attrs["block_size"], data.shape
        if node.attrs["mode"] == "blocks_first":
            moved = data.reshape(n, block, block, c // block ** 2, h, w).transpose(0, 3, 4, 1, 5, 2)
        else:
            moved = data.reshape(n, c // block ** 2, block, block, h, w).transpose(0, 1, 4, 2, 5, 3)
        return [np.ascontiguousarray(moved.reshape(n, c // block ** 2, h * block, w * block))]


@register
class SpaceToDepth(_BlockMove):
    """SpaceToDepth-1: the inverse of DepthToSpace in the same mode."""

    type = "SpaceToDepth"
    to_space = False

    @staticmethod
    def evaluate(node, values):
        data = values[0]
        if data.ndim != 4:
            raise ValueError("SpaceToDepth is evaluated for 4-D data only")
        block, (n, c, h, w) = node.attrs["block_size"], data.shape
        blocks = data.reshape(n, c, h // block, block, w // block, block)
        order = (0, 3, 5, 1, 2, 4) if node.attrs["mode"] == "blocks_first" else (0, 1, 3, 5, 2, 4)
        return [np.ascontiguousarray(blocks.transpose(order).reshape(
            n, c * block ** 2, h // block, w // block))]


@register
class Eye(OpSpec):
    """Eye-9: a [rows, columns] matrix of ones on the diagonal shifted by `diagonal_index`
    (above the main one when positive), as `output_type`."""

    type = "Eye"
    version = "opset9"
    attributes = ("output_type",)

    @staticmethod
    def infer(node):
        rows, columns = (const_ints(s) for s in node.inputs[:2])
        shape = (-1 if rows is None else rows[0], -1 if columns is None else columns[0])
        return [(shape, node.attrs["output_type"])]

    @staticmethod
    def evaluate(node, values):
        if len(values) > 3:
            raise ValueError("Eye with a batch shape is not evaluated")
        rows, columns, diagonal = (int(np.ravel(v)[0]) for v in values[:3])
        return [np.eye(rows, columns, k=diagonal, dtype=to_numpy(node.attrs["output_type"]))]


@register
class NonZero(OpSpec):
    """NonZero-3: the indices of the non-zero elements, one row per axis: [rank, count]."""

    type = "NonZero"
    version = "opset3"
    attributes = ("output_type",)

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        rank = -1 if data.shape is None else len(data.shape)
        return [((rank, -1), node.attrs.get("output_type", "i64"))]

    @staticmethod
    def evaluate(node, values):
        dtype = to_numpy(node.attrs.get("output_type", "i64"))
        return [np.array(np.nonzero(values[0]), dtype=dtype).reshape(values[0].ndim, -1)]


@register
class Unique(OpSpec):
    """Unique-10: the unique elements (or slices along the axis input), the index of each
    one's first occurrence, the index of each input element's unique entry, and the counts.
    `sorted` orders them ascending, else by first occurrence."""

    type = "Unique"
    version = "opset10"
    attributes = ("sorted", "index_element_type", "count_element_type")

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        index_type = node.attrs.get("index_element_type", "i64")
        count_type = node.attrs.get("count_element_type", "i64")
        if len(node.inputs) > 1:
            axis = const_ints(node.inputs[1])
            if data.shape is None or axis is None:
                unique, inverse = None, (-1,)
            else:
                a = normalize_axis(axis[0], len(data.shape))
                unique = tuple(-1 if i == a else d for i, d in enumerate(data.shape))
                inverse = (data.shape[a],)
        else:
            unique = (-1,)
            total = -1 if data.shape is None or -1 in data.shape else int(np.prod(data.shape))
            inverse = (total,)
        return [(unique, data.element_type), ((-1,), index_type), (inverse, index_type),
                ((-1,), count_type)]


@register
class ReverseSequence(ShapedLikeInput):
    """ReverseSequence-1: along `seq_axis`, the first seq_lengths[b] elements of each batch
    entry b (along `batch_axis`) reversed, the rest kept."""

    type = "ReverseSequence"
    attributes = ("batch_axis", "seq_axis")

    @staticmethod
    def evaluate(node, values):
        data, lengths = values
        batch_axis = normalize_axis(node.attrs["batch_axis"], data.ndim)
        seq_axis = normalize_axis(node.attrs["seq_axis"], data.ndim)
        out = data.copy()
        for b, length in enumerate(np.ravel(lengths)):
            index = [slice(None)] * data.ndim
            index[batch_axis] = b
            index[seq_axis] = slice(0, int(length))
            out[tuple(index)] = np.flip(data[tuple(index)], axis=seq_axis - (seq_axis > batch_axis))
        return [out]


@register
class Col2Im(OpSpec):
    """Col2Im-15: sums the sliding blocks of [N, C * kh * kw, L] (or unbatched) back into
    [N, C, H, W] images of `output_size`, with `kernel_size` blocks."""

    type = "Col2Im"
    version = "opset15"
    attributes = ("strides", "dilations", "pads_begin", "pads_end")

    @staticmethod
    def infer(node):
        data, output_size, kernel_size = node.inputs
        if data.shape is None:
            return [(None, data.element_type)]
        size, kernel = const_ints(output_size), const_ints(kernel_size)
        spatial = tuple(size) if size is not None else (-1, -1)
        columns = data.shape[-2]
        channels = -1 if kernel is None or columns == -1 else columns // int(np.prod(kernel))
        lead = tuple(data.shape[:-2])
        return [(lead + (channels,) + spatial, data.element_type)]


# -- batch <-> space blocks (TensorFlow's SpaceToBatchND and BatchToSpaceND) --------------------

def _block_inputs(node) -> tuple[list[int], list[int], list[int]] | None:
    """block_shape, then the begin and end amounts (pads or crops), when all are constant."""
    values = [const_ints(s) for s in node.inputs[1:4]]
    return None if any(v is None for v in values) else tuple(values)


def _rank_only(data) -> list:
    """What is known of the output when the data's shape or the block amounts are not: the
    data's rank at most."""
    return [(None if data.shape is None else (-1,) * len(data.shape), data.element_type)]


@register
class SpaceToBatch(OpSpec):
    """SpaceToBatch-2: data padded by pads_begin/pads_end, then every axis i split into blocks
    of block_shape[i] (block_shape[0] is 1) whose offsets move into the batch axis."""

    type = "SpaceToBatch"
    version = "opset2"

    @staticmethod
    def infer(node):
        data, blocks = node.inputs[0], _block_inputs(node)
        if data.shape is None or blocks is None:
            return _rank_only(data)
        block, begin, end = blocks
        total = int(np.prod(block))
        shape = [-1 if data.shape[0] == -1 else data.shape[0] * total]
        for d, b, pb, pe in zip(data.shape[1:], block[1:], begin[1:], end[1:]):
            if d != -1 and (d + pb + pe) % b:
                raise ValueError(f"padded dimension {d + pb + pe} is not a multiple of block {b}")
            shape.append(-1 if d == -1 else (d + pb + pe) // b)
        return [(tuple(shape), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, block, begin, end = (values[0], *(np.ravel(v).astype(int) for v in values[1:]))
        padded = np.pad(data, list(zip(begin, end)))
        n, spatial = padded.shape[0], padded.shape[1:]
        split = [n]
        for d, b in zip(spatial, block[1:]):
            split += [d // b, b]
        blocks = padded.reshape(split)
        rank = len(spatial)
        # batch order: block offsets (outermost first), then the original batch
        order = [2 + 2 * i for i in range(rank)] + [0] + [1 + 2 * i for i in range(rank)]
        moved = blocks.transpose(order)
        return [np.ascontiguousarray(moved.reshape(
            [n * int(np.prod(block))] + [d // b for d, b in zip(spatial, block[1:])]))]


@register
class BatchToSpace(OpSpec):
    """BatchToSpace-2: the inverse of SpaceToBatch, then crops_begin/crops_end cut off."""

    type = "BatchToSpace"
    version = "opset2"

    @staticmethod
    def infer(node):
        data, blocks = node.inputs[0], _block_inputs(node)
        if data.shape is None or blocks is None:
            return _rank_only(data)
        block, begin, end = blocks
        total = int(np.prod(block))
        if data.shape[0] != -1 and data.shape[0] % total:
            raise ValueError(f"batch {data.shape[0]} is not a multiple of the blocks' {total}")
        shape = [-1 if data.shape[0] == -1 else data.shape[0] // total]
        for d, b, cb, ce in zip(data.shape[1:], block[1:], begin[1:], end[1:]):
            shape.append(-1 if d == -1 else d * b - cb - ce)
        return [(tuple(shape), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, block, begin, end = (values[0], *(np.ravel(v).astype(int) for v in values[1:]))
        rank = data.ndim - 1
        n = data.shape[0] // int(np.prod(block))
        blocks = data.reshape(list(block[1:]) + [n] + list(data.shape[1:]))
        order = [rank] + [x for i in range(rank) for x in (rank + 1 + i, i)]
        moved = blocks.transpose(order).reshape(
            [n] + [d * b for d, b in zip(data.shape[1:], block[1:])])
        crop = tuple(slice(b, moved.shape[i] - e) for i, (b, e) in enumerate(zip(begin, end)))
        return [np.ascontiguousarray(moved[crop])]
