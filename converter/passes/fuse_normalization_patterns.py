"""Fuse normalizations frontends decompose into reductions back into OpenVINO's MVN-6 and
NormalizeL2-1, as ovc emits them.

Before: c = x - ReduceMean(x, A); c * 1/Sqrt(ReduceMean(c * c, A) + eps)   (LayerNorm, InstanceNorm)
After:  MVN(x, A, eps, inside_sqrt)

Before: x * Rsqrt(Maximum(ReduceSum(x * x, A), eps))                        (tf.math.l2_normalize)
After:  NormalizeL2(x, A, eps, max)

Patterns (m = ReduceMean(x, A) with keep_dims; 1/sqrt(r) is Divide(1, Sqrt(r)), Power(r, -0.5),
or a Divide by Sqrt(r) instead of the Multiply; squares are c * c, Power(c, 2) or
SquaredDifference(x, m)):
    (x - m) / sqrt(mean((x - m)^2) + eps)          -> MVN inside_sqrt
    (x - m) / (sqrt(mean((x - m)^2)) + eps)        -> MVN outside_sqrt
    x * k + (beta - m * k), k = g / sqrt(var + eps) -> MVN(x) * g + beta  (Keras LayerNorm in TF:
        also with -m * k + beta, and without g or beta)
    x / sqrt(max(sum(x^2), eps)), x / sqrt(sum(x^2) + eps) -> NormalizeL2 max / add
Every node inside a pattern other than x is read only by the pattern. Skipped entirely with
--disable_fusing. A node named by --finegrain_fusing (any node of a pattern but x: its
ReduceMean, Sqrt, the final Divide or Multiply) leaves the whole pattern as it was.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node, Output
from ._fusing import FusingGuard, fusing_guard
from ._sweeps import replace_each, scalar


def run(graph: Graph, options=None) -> int:
    guard = fusing_guard(options)
    uses = graph.consumers()
    return replace_each(graph, lambda node: _Match(graph, uses, guard).fuse(node)
                        if node.outputs and node.outputs[0].element_type in ("f32", "f16", "f64")
                        else None)


class _Match:
    """One attempt at a pattern rooted at a node: records the nodes it swallows, so that it
    can check at the end that nothing outside the pattern reads them."""

    def __init__(self, graph: Graph, uses: dict[int, list], guard: FusingGuard | None = None):
        self.graph = graph
        self.uses = uses
        self.guard = guard or FusingGuard()
        self.inside: dict[int, Node] = {}

    def take(self, output: Output, *ops: str) -> Node | None:
        node = output.node
        if node.op not in ops:
            return None
        self.inside[id(node)] = node
        return node

    def closed(self, root: Node) -> bool:
        """Whether every swallowed node is read only by swallowed nodes or the root."""
        members = set(self.inside) | {id(root)}
        return all(id(consumer) in members
                   for node in self.inside.values()
                   for consumer, _ in self.uses.get(id(node), []))

    def may_fuse(self, root: Node) -> bool:
        """Whether the matched pattern may become one op: closed, and no node of it (root and
        swallowed ones) named by --finegrain_fusing. Asked before anything is built."""
        return self.closed(root) and self.guard.allows(root, *self.inside.values())

    # -- pieces ---------------------------------------------------------------------------------
    def over_sqrt(self, node: Node) -> tuple[Output, Output] | None:
        """(numerator, r) for numerator / sqrt(r) in any of its spellings."""
        if node.op not in ("Divide", "Multiply"):
            return None
        a, b = node.inputs
        if node.op == "Divide":
            root = self.take(b, "Sqrt")
            return (a, root.inputs[0]) if root is not None else None
        for numerator, factor in ((a, b), (b, a)):
            r = self.inverse_sqrt(factor)
            if r is not None:
                return numerator, r
        return None

    def inverse_sqrt(self, output: Output) -> Output | None:
        """r for 1 / sqrt(r): Divide(1, Sqrt(r)) or Power(r, -0.5)."""
        node = output.node
        if node.op == "Divide" and scalar(node.inputs[0]) == 1:
            root = self.take(node.inputs[1], "Sqrt")
            if root is not None:
                self.take(output, "Divide")
                return root.inputs[0]
        if node.op == "Power" and scalar(node.inputs[1]) == -0.5:
            self.take(output, "Power")
            return node.inputs[0]
        return None

    def plus_eps(self, output: Output, *ops: str) -> tuple[Output, float] | None:
        node = self.take(output, *ops)
        if node is None:
            return None
        a, b = node.inputs
        if scalar(a) is not None:
            a, b = b, a
        eps = scalar(b)
        return (a, eps) if eps is not None and eps >= 0 else None

    def mean_of(self, output: Output) -> tuple[Output, list[int]] | None:
        """(x, axes) for ReduceMean(x, axes) with keep_dims."""
        node = self.take(output, "ReduceMean")
        if node is None or not node.attrs.get("keep_dims") or node.inputs[1].value is None:
            return None
        rank = node.inputs[0].rank
        if rank is None:
            return None
        return node.inputs[0], sorted({int(a) % rank for a in np.ravel(node.inputs[1].value)})

    def variance(self, output: Output, x: Output, mean: Output, axes: list[int],
                 centered: Output | None) -> bool:
        """Whether `output` is mean((x - mean)^2) over `axes`."""
        found = self.mean_of(output)
        if found is None or found[1] != axes:
            return False
        square = found[0].node
        self.inside[id(square)] = square
        if square.op == "SquaredDifference":
            return set(map(_key, square.inputs)) == {_key(x), _key(mean)} and x != mean
        if square.op == "Multiply" and square.inputs[0] == square.inputs[1]:
            base = square.inputs[0]
        elif square.op == "Power" and scalar(square.inputs[1]) == 2:
            base = square.inputs[0]
        else:
            return False
        return base == centered if centered is not None else self.is_centered(base, x, mean)

    def is_centered(self, output: Output, x: Output, mean: Output) -> bool:
        node = self.take(output, "Subtract")
        return node is not None and node.inputs[0] == x and node.inputs[1] == mean

    # -- the patterns ---------------------------------------------------------------------------
    def fuse(self, node: Node) -> Output | None:
        for pattern in (self.mvn, self.mvn_outside_sqrt, self.mvn_affine, self.normalize_l2):
            self.inside = {}
            fused = pattern(node)
            if fused is not None and fused.shape == node.outputs[0].shape:
                return fused  # (a constant broadcasting the result wider is not matched)
        return None

    def _mvn_node(self, x: Output, axes: list[int], eps: float, mode: str, name: str) -> Output:
        return self.graph.op("MVN", x, self.graph.const(np.array(axes, np.int64),
                                                        name=f"{name}/axes"),
                             name=name, normalize_variance=True, eps=eps, eps_mode=mode)

    def mvn(self, node: Node) -> Output | None:
        parts = self.over_sqrt(node)
        if parts is None:
            return None
        centered, radicand = parts
        sub = self.take(centered, "Subtract")
        with_eps = self.plus_eps(radicand, "Add")
        if sub is None or with_eps is None:
            return None
        x, mean_out = sub.inputs
        mean = self.mean_of(mean_out)
        if mean is None or mean[0] != x:
            return None
        if (not self.variance(with_eps[0], x, mean_out, mean[1], centered)
                or not self.may_fuse(node)):
            return None
        return self._mvn_node(x, mean[1], with_eps[1], "inside_sqrt", node.name)

    def mvn_outside_sqrt(self, node: Node) -> Output | None:
        if node.op != "Divide":
            return None
        centered, denominator = node.inputs
        sub = self.take(centered, "Subtract")
        with_eps = self.plus_eps(denominator, "Add")
        if sub is None or with_eps is None:
            return None
        root = self.take(with_eps[0], "Sqrt")
        x, mean_out = sub.inputs
        mean = self.mean_of(mean_out)
        if root is None or mean is None or mean[0] != x:
            return None
        if (not self.variance(root.inputs[0], x, mean_out, mean[1], centered)
                or not self.may_fuse(node)):
            return None
        return self._mvn_node(x, mean[1], with_eps[1], "outside_sqrt", node.name)

    def mvn_affine(self, node: Node) -> Output | None:
        """x * k + (beta - mean * k) with k = gamma / sqrt(var + eps), gamma optional."""
        if node.op != "Add":
            return None
        for scaled_out, shift_out in (node.inputs, node.inputs[::-1]):
            self.inside = {}
            scaled = self.take(scaled_out, "Multiply")
            if scaled is None:
                continue
            for x, k in (scaled.inputs, scaled.inputs[::-1]):
                fused = self._affine_with(node, x, k, shift_out)
                if fused is not None:
                    return fused
        return None

    def _affine_with(self, node: Node, x: Output, k: Output, shift_out: Output) -> Output | None:
        saved = dict(self.inside)
        gamma, radicand = self.scale_over_sqrt(k)
        shift = self.shift(shift_out, k) if radicand is not None else None
        with_eps = self.plus_eps(radicand, "Add") if shift is not None else None
        if with_eps is None:
            self.inside = saved
            return None
        mean_out, beta = shift
        mean = self.mean_of(mean_out)
        if (mean is None or mean[0] != x
                or not self.variance(with_eps[0], x, mean_out, mean[1], None)
                or not self.may_fuse(node)):
            self.inside = saved
            return None
        g, name = self.graph, node.name
        y = self._mvn_node(x, mean[1], with_eps[1], "inside_sqrt", f"{name}/mvn")
        if gamma is not None:
            y = g.op("Multiply", y, gamma, name=f"{name}/gamma", auto_broadcast="numpy")
        if beta is not None:
            y = g.op("Add", y, beta, name=f"{name}/beta", auto_broadcast="numpy")
        return y

    def scale_over_sqrt(self, k: Output) -> tuple[Output | None, Output | None]:
        """(gamma or None, r) for k = gamma / sqrt(r) with a constant gamma."""
        r = self.inverse_sqrt(k)
        if r is not None:
            return None, r
        node = k.node
        if node.op not in ("Multiply", "Divide"):
            return None, None
        a, b = node.inputs
        if node.op == "Divide":
            root = b.node if b.node.op == "Sqrt" else None
            if a.value is None or root is None:
                return None, None
            self.take(k, "Divide")
            self.take(b, "Sqrt")
            return a, root.inputs[0]
        for gamma, factor in ((a, b), (b, a)):
            if gamma.value is None:
                continue
            r = self.inverse_sqrt(factor)
            if r is not None:
                self.take(k, "Multiply")
                return gamma, r
        return None, None

    def shift(self, output: Output, k: Output) -> tuple[Output, Output | None] | None:
        """(mean, beta or None) for beta - mean * k, -mean * k + beta or -mean * k."""
        node = output.node
        if node.op == "Subtract" and node.inputs[0].value is not None:
            mean = self.times_k(node.inputs[1], k, negated=False)
            if mean is not None:
                self.take(output, "Subtract")
                return mean, node.inputs[0]
        if node.op == "Add":
            for term, beta in (node.inputs, node.inputs[::-1]):
                mean = self.times_k(term, k, negated=True) if beta.value is not None else None
                if mean is not None:
                    self.take(output, "Add")
                    return mean, beta
        mean = self.times_k(output, k, negated=True)
        return (mean, None) if mean is not None else None

    def times_k(self, output: Output, k: Output, negated: bool) -> Output | None:
        """mean for mean * k (or Negative(mean) * k when `negated`)."""
        node = output.node
        if node.op != "Multiply" or k not in node.inputs:
            return None
        other = node.inputs[1] if node.inputs[0] == k else node.inputs[0]
        if negated:
            negative = other.node if other.node.op == "Negative" else None
            if negative is None:
                return None
            self.take(other, "Negative")
            other = negative.inputs[0]
        self.take(output, "Multiply")
        return other

    def normalize_l2(self, node: Node) -> Output | None:
        parts = self.over_sqrt(node)
        if parts is None:
            return None
        x, radicand = parts
        with_eps = self.plus_eps(radicand, "Maximum", "Add")
        if with_eps is None:
            return None
        mode = "max" if radicand.node.op == "Maximum" else "add"
        total = self.take(with_eps[0], "ReduceSum")
        if total is None or not total.attrs.get("keep_dims") or total.inputs[1].value is None:
            return None
        square = total.inputs[0].node
        self.inside[id(square)] = square
        if square.op == "Multiply":
            is_square = square.inputs == [x, x]
        else:
            is_square = square.op == "Power" and square.inputs[0] == x and \
                scalar(square.inputs[1]) == 2
        if not is_square or not self.may_fuse(node) or x.shape != node.outputs[0].shape:
            return None
        axes = self.graph.const(np.asarray(total.inputs[1].value, np.int64).reshape(-1),
                                name=f"{node.name}/axes")
        return self.graph.op("NormalizeL2", x, axes, name=node.name, eps=with_eps[1],
                             eps_mode=mode)


def _key(output: Output) -> tuple[int, int]:
    return id(output.node), output.index
