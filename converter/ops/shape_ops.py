"""Ops that move data without arithmetic: Reshape, Squeeze, Unsqueeze, Transpose, Concat,
Gather, Pad."""
import numpy as np

from ._shapes import const_ints, normalize_axis
from . import OpSpec, register


@register
class Reshape(OpSpec):
    type = "Reshape"
    attributes = ("special_zero",)

    @staticmethod
    def infer(node):
        data, target = node.inputs
        pattern = const_ints(target)
        if pattern is None:
            length = target.shape[0] if target.shape else -1
            return [(None if length == -1 else (-1,) * length, data.element_type)]
        return [(resolve_reshape(data.shape, pattern, node.attrs.get("special_zero", False)),
                 data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, target = values
        shape = resolve_reshape(data.shape, [int(v) for v in target], node.attrs.get("special_zero", False))
        return [data.reshape(shape)]


def resolve_reshape(shape, pattern, special_zero):
    """The output shape of Reshape: 0 copies an input dim (with special_zero), -1 is inferred."""
    out = [shape[i] if (v == 0 and special_zero and shape is not None) else v for i, v in enumerate(pattern)]
    if list(pattern).count(-1) > 1:  # a 0 copying a dynamic dim is no second -1
        raise ValueError(f"reshape pattern {pattern} has more than one -1")
    if -1 in out and shape is not None and -1 not in shape:
        known = int(np.prod([d for d in out if d != -1]))
        total = int(np.prod(shape))
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape {shape} to {pattern}")
        out[out.index(-1)] = total // known
    elif shape is not None and -1 not in shape and -1 not in out and int(np.prod(out)) != int(np.prod(shape)):
        raise ValueError(f"cannot reshape {shape} to {pattern}")
    return tuple(out)


@register
class Squeeze(OpSpec):
    type = "Squeeze"

    @staticmethod
    def infer(node):
        data = node.inputs[0]
        if data.shape is None:
            return [(None, data.element_type)]
        if len(node.inputs) == 1:
            return [(tuple(d for d in data.shape if d != 1), data.element_type)]
        values = const_ints(node.inputs[1])
        if values is None:  # run-time axes: their count gives the rank when it is known
            count = node.inputs[1].shape
            if count is None or len(count) > 1 or -1 in count:
                return [(None, data.element_type)]
            return [((-1,) * (len(data.shape) - (count[0] if count else 1)), data.element_type)]
        axes = {normalize_axis(a, len(data.shape)) for a in values}
        return [(tuple(d for i, d in enumerate(data.shape) if i not in axes), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        axes = None if len(values) == 1 else tuple(int(a) for a in np.ravel(values[1]))
        return [np.squeeze(values[0], axis=axes)]


@register
class Unsqueeze(OpSpec):
    type = "Unsqueeze"

    @staticmethod
    def infer(node):
        data, axes = node.inputs
        if data.shape is None or axes.value is None:
            return [(None, data.element_type)]
        rank = len(data.shape) + axes.value.size
        inserted = sorted(normalize_axis(a, rank) for a in const_ints(axes))
        shape = list(data.shape)
        for axis in inserted:
            shape.insert(axis, 1)
        return [(tuple(shape), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        rank = values[0].ndim + values[1].size
        axes = sorted(normalize_axis(int(a), rank) for a in np.ravel(values[1]))
        return [np.expand_dims(values[0], axis=tuple(axes))]


@register
class Transpose(OpSpec):
    type = "Transpose"

    @staticmethod
    def infer(node):
        data, order = node.inputs
        perm = const_ints(order)
        if data.shape is not None and perm is None:  # a run-time order keeps the rank
            return [((-1,) * len(data.shape), data.element_type)]
        if data.shape is None or perm is None:
            return [(None, data.element_type)]
        if not perm:
            perm = list(reversed(range(len(data.shape))))
        return [(tuple(data.shape[p] for p in perm), data.element_type)]

    @staticmethod
    def evaluate(node, values):
        perm = [int(p) for p in values[1]] or None
        return [np.ascontiguousarray(np.transpose(values[0], perm))]


@register
class Concat(OpSpec):
    type = "Concat"
    attributes = ("axis",)

    @staticmethod
    def infer(node):
        shapes = [s.shape for s in node.inputs]
        if any(s is None for s in shapes):
            return [(None, node.inputs[0].element_type)]
        axis = normalize_axis(node.attrs["axis"], len(shapes[0]))
        out = list(shapes[0])
        sizes = [s[axis] for s in shapes]
        out[axis] = -1 if -1 in sizes else sum(sizes)
        return [(tuple(out), node.inputs[0].element_type)]

    @staticmethod
    def evaluate(node, values):
        return [np.concatenate(values, axis=node.attrs["axis"])]


@register
class Gather(OpSpec):
    type = "Gather"
    version = "opset8"
    attributes = ("batch_dims",)

    @staticmethod
    def infer(node):
        data, indices, axis = node.inputs
        axis_value = const_ints(axis)
        if data.shape is None or indices.shape is None or axis_value is None:
            return [(None, data.element_type)]
        a = normalize_axis(axis_value[0], len(data.shape))
        batch = node.attrs.get("batch_dims", 0)
        batch = batch + len(indices.shape) if batch < 0 else batch  # the leading axes both share
        return [(data.shape[:a] + indices.shape[batch:] + data.shape[a + 1:], data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, indices, axis = values
        axis = int(np.ravel(axis)[0])
        indices = np.where(indices < 0, indices + data.shape[axis], indices)
        batch = node.attrs.get("batch_dims", 0)
        batch = batch + indices.ndim if batch < 0 else batch
        if batch:  # each of the shared leading entries gathers on its own
            axis = axis % data.ndim
            lead = data.shape[:batch]
            parts = [np.take(d, i, axis=axis - batch) for d, i in
                     zip(data.reshape((-1,) + data.shape[batch:]),
                         indices.reshape((-1,) + indices.shape[batch:]))]
            return [np.stack(parts).reshape(lead + parts[0].shape)]
        return [np.take(data, indices, axis=axis)]


@register
class Pad(OpSpec):
    """Pad-12: negative pads crop."""

    type = "Pad"
    version = "opset12"
    attributes = ("pad_mode",)

    @staticmethod
    def infer(node):
        data, begin, end = node.inputs[:3]
        b, e = const_ints(begin), const_ints(end)
        if data.shape is None or b is None or e is None:
            return [(None if data.shape is None else (-1,) * len(data.shape), data.element_type)]
        shape = tuple(-1 if d == -1 else d + x + y for d, x, y in zip(data.shape, b, e))
        return [(shape, data.element_type)]

    @staticmethod
    def evaluate(node, values):
        data, begin, end = values[:3]
        mode = node.attrs.get("pad_mode", "constant")
        crop = tuple(slice(max(-int(b), 0), d - max(-int(e), 0))
                     for d, b, e in zip(data.shape, np.ravel(begin), np.ravel(end)))
        data = data[crop]
        widths = [(max(int(b), 0), max(int(e), 0)) for b, e in zip(np.ravel(begin), np.ravel(end))]
        if mode == "constant":
            fill = values[3].item() if len(values) > 3 else 0
            return [np.pad(data, widths, mode="constant", constant_values=fill)]
        return [np.pad(data, widths, mode={"edge": "edge", "reflect": "reflect",
                                           "symmetric": "symmetric"}[mode])]
