"""Ops of the attention family: Einsum, the tensor contraction attention layers are often
written in. (Attention itself is decomposed into MatMul, SoftMax and Select by the frontend.)"""
from __future__ import annotations

import numpy as np

from . import OpSpec, register

ELLIPSIS = "."  # an ellipsis, once parsed, stands as one character in a term


def einsum_terms(equation: str) -> tuple[list[str], str]:
    """The input terms and the output term of an explicit equation (spaces removed), each
    ellipsis written as a single ELLIPSIS character."""
    equation = equation.replace(" ", "")
    if "->" not in equation:
        raise ValueError(f"einsum equation {equation!r} has no output term")
    inputs, output = equation.split("->")
    terms = [term.replace("...", ELLIPSIS) for term in inputs.split(",")]
    return terms, output.replace("...", ELLIPSIS)


def implicit_output(inputs: str) -> str:
    """The output term numpy and ONNX give an equation without `->`: the ellipsis first, then
    the letters that appear exactly once, in alphabetical order."""
    letters = inputs.replace("...", "").replace(",", "")
    single = sorted(c for c in set(letters) if letters.count(c) == 1)
    return ("..." if "..." in inputs else "") + "".join(single)


@register
class Einsum(OpSpec):
    """Einsum-7: the contraction an explicit `equation` ("ij,jk->ik", with `...` for
    broadcast dimensions) describes."""

    type = "Einsum"
    version = "opset7"
    attributes = ("equation",)

    @staticmethod
    def infer(node):
        terms, output = einsum_terms(node.attrs["equation"])
        if len(terms) != len(node.inputs):
            raise ValueError(f"the equation has {len(terms)} input term(s) for "
                             f"{len(node.inputs)} input(s)")
        element_type = node.inputs[0].element_type
        if any(s.shape is None for s in node.inputs):
            rank = None if ELLIPSIS in output else len(output)
            return [(None if rank is None else (-1,) * rank, element_type)]
        sizes: dict[str, int] = {}
        ellipsis: tuple[int, ...] = ()
        for term, source in zip(terms, node.inputs):
            ellipsis = _read_term(term, source.shape, sizes, ellipsis)
        shape: list[int] = []
        for label in output:
            shape.extend(ellipsis if label == ELLIPSIS else (sizes[label],))
        return [(tuple(shape), element_type)]

    @staticmethod
    def evaluate(node, values):
        equation = node.attrs["equation"].replace(" ", "")
        return [np.asarray(np.einsum(equation, *values)).astype(values[0].dtype)]


def _read_term(term: str, shape: tuple[int, ...], sizes: dict[str, int],
               ellipsis: tuple[int, ...]) -> tuple[int, ...]:
    """Record the size of each label of `term` from `shape`; return the broadcast dimensions
    of the ellipses seen so far."""
    named = len(term) - (1 if ELLIPSIS in term else 0)
    if len(shape) < named or (ELLIPSIS not in term and len(shape) != named):
        raise ValueError(f"term {term!r} does not fit a tensor of rank {len(shape)}")
    if ELLIPSIS in term:
        at = term.index(ELLIPSIS)
        covered = len(shape) - named
        ellipsis = _broadcast_dims(ellipsis, tuple(shape[at:at + covered]))
        dims = list(shape[:at]) + list(shape[at + covered:])
        labels = term.replace(ELLIPSIS, "")
    else:
        dims, labels = list(shape), term
    for label, size in zip(labels, dims):
        sizes[label] = _merge_size(label, sizes.get(label), size)
    return ellipsis


def _merge_size(label: str, known: int | None, size: int) -> int:
    """The size of a label seen with sizes `known` (None the first time) and `size`."""
    if known is None or known == 1:
        return size
    if size == 1 or size == known:
        return known
    if -1 in (known, size):
        return known if size == -1 else size
    raise ValueError(f"label {label!r} has sizes {known} and {size}")


def _broadcast_dims(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    return tuple(y if x == 1 else x if y == 1 else -1 if -1 in (x, y) else x
                 for x, y in zip(a, b))
