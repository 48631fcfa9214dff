"""Fuse the activations frontends (and exporters) spell out element by element into the one op
ovc emits for them.

Before: Multiply(Multiply(x, 0.5), Add(Erf(Divide(x, 1.4142)), 1))   (ONNX/TF exact Gelu)
After:  Gelu(x, approximation_mode=ERF)

Patterns (the products in any order and grouping, Divide by a constant counting as Multiply by
its inverse, a scalar constant anywhere in the product folded into one factor):
    0.5 * x * (1 + erf(x / sqrt2))                       -> Gelu ERF
    0.5 * x * (1 - erf(-x / sqrt2))  (TF's erfc form)    -> Gelu ERF
    0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) -> Gelu TANH
    relu6(x + 3) / 6                                      -> HSigmoid(x)
    x * relu6(x + 3) / 6,  x * HSigmoid(x)                -> HSwish(x)
    x * sigmoid(x),  x * sigmoid(beta * x)                -> Swish(x[, beta])
    log(exp(x) + 1)                                       -> SoftPlus(x)
    x * tanh(softplus(x))                                 -> Mish(x)
relu6 is Clamp(0, 6), Minimum(ReLU(.), 6) or Minimum(Maximum(., 0), 6). Every node inside a
pattern other than x must have no other consumer, or the fused op would not replace it.
A pattern whose parts another fusion makes (HSwish over a fresh HSigmoid, Mish over a fresh
SoftPlus) matches on the next sweep: sweeps repeat until nothing fuses. Skipped entirely with
--disable_fusing. A node named by --finegrain_fusing (any node of a pattern but x: the Multiply
of a Swish, its Sigmoid, the Erf of a Gelu) leaves its whole pattern as it was, the HSigmoid of
an HSwish and the SoftPlus of a Mish included: they stay unfused when a node of the larger
pattern they would grow into is named.
"""
from __future__ import annotations

import math

import numpy as np

from ..graph import Graph, Node, Output
from ._fusing import FusingGuard, fusing_guard, nodes_between
from ._sweeps import scalar, until_stable

FLOAT_TYPES = ("f32", "f16", "f64")
SQRT1_2 = 1 / math.sqrt(2)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_CUBIC = 0.044715


def run(graph: Graph, options=None) -> int:
    guard = fusing_guard(options)
    return until_stable(graph, lambda g: _fuse_sweep(g, guard))


def _fuse_sweep(graph: Graph, guard: FusingGuard) -> int:
    matcher = _Matcher(graph.consumers())
    sweep = graph.sweep()
    rewrites = 0
    for node in sweep:
        if node.outputs and node.outputs[0].element_type not in FLOAT_TYPES:
            continue
        fused = matcher.match(graph, node)
        if fused is not None and _guard_allows(guard, matcher, node, fused.node):
            sweep.replace(node.output(), fused)
            rewrites += 1
    return rewrites


def _guard_allows(guard: FusingGuard, matcher: "_Matcher", root: Node, fused: Node) -> bool:
    """Whether --finegrain_fusing lets `fused` replace the pattern rooted at `root`. The fused
    op is only built, not yet connected: when refused, the graph is left as it was."""
    replaced = nodes_between(root, fused.inputs)
    return guard.allows(*replaced, *matcher.enclosing(root, fused))


def close(value: float | None, expected: float, rtol: float = 1e-3) -> bool:
    return value is not None and math.isclose(value, expected, rel_tol=rtol, abs_tol=1e-7)


class _Matcher:
    """The patterns, read against one sweep's consumer counts."""

    def __init__(self, uses: dict[int, list]):
        self.uses = uses

    def private(self, output: Output) -> Node | None:
        """The node making `output` when nothing else reads it (so a fusion can swallow it);
        a node made during this sweep has no count yet and is left to the next sweep."""
        node = output.node
        return node if len(self.uses.get(id(node), [])) == 1 else None

    def private_op(self, output: Output, *ops: str) -> Node | None:
        node = self.private(output)
        return node if node is not None and node.op in ops else None

    # -- reading products ---------------------------------------------------------------------
    def product(self, node: Node) -> tuple[list[Output], float] | None:
        """A Multiply/Divide tree as (variable factors, product of its scalar constants);
        inner Multiply/Divide nodes are opened only when nothing else reads them."""
        if node.op not in ("Multiply", "Divide"):
            return None
        factors: list[Output] = []
        scale = 1.0

        def open_(n: Node) -> bool:
            nonlocal scale
            a, b = n.inputs
            if n.op == "Divide":
                divisor = scalar(b)
                if divisor is None or divisor == 0:
                    return False
                scale /= divisor
                operands = [a]
            else:
                operands = [a, b]
            for operand in operands:
                value = scalar(operand)
                if value is not None:
                    scale *= value
                    continue
                inner = self.private_op(operand, "Multiply", "Divide")
                if inner is None or not open_(inner):
                    factors.append(operand)
            return True

        if not open_(node):
            return None
        return factors, scale

    def linear(self, output: Output) -> tuple[Output, float]:
        """`output` as k * base: Multiply/Divide by scalar constants and Negative looked
        through (only nodes nothing else reads)."""
        k = 1.0
        while True:
            node = self.private_op(output, "Multiply", "Divide", "Negative")
            if node is None:
                return output, k
            if node.op == "Negative":
                k, output = -k, node.inputs[0]
                continue
            a, b = node.inputs
            if node.op == "Divide":
                divisor = scalar(b)
                if not divisor:
                    return output, k
                k, output = k / divisor, a
            elif scalar(b) is not None:
                k, output = k * scalar(b), a
            elif scalar(a) is not None:
                k, output = k * scalar(a), b
            else:
                return output, k

    def plus_constant(self, output: Output) -> tuple[Output, float] | None:
        """Add(y, c) or Add(c, y) with a scalar c nothing else reads, as (y, c)."""
        node = self.private_op(output, "Add")
        if node is None:
            return None
        a, b = node.inputs
        if scalar(b) is not None and scalar(a) is None:
            return a, scalar(b)
        if scalar(a) is not None and scalar(b) is None:
            return b, scalar(a)
        return None

    def relu6_of(self, output: Output) -> Output | None:
        """y for relu6(y): Clamp(y, 0, 6), Minimum(ReLU(y), 6), Minimum(Maximum(y, 0), 6)."""
        node = self.private(output)
        if node is None:
            return None
        if node.op == "Clamp":
            if node.attrs.get("min") == 0 and node.attrs.get("max") == 6:
                return node.inputs[0]
            return None
        if node.op != "Minimum":
            return None
        a, b = node.inputs
        if scalar(a) == 6:
            a, b = b, a
        if scalar(b) != 6:
            return None
        inner = self.private_op(a, "ReLU", "Maximum")
        if inner is None:
            return None
        if inner.op == "ReLU":
            return inner.inputs[0]
        p, q = inner.inputs
        if scalar(p) == 0:
            p, q = q, p
        return p if scalar(q) == 0 else None

    def hsigmoid_times_6(self, output: Output) -> Output | None:
        """x for relu6(x + 3)."""
        shifted = self.relu6_of(output)
        if shifted is None:
            return None
        parts = self.plus_constant(shifted)
        return parts[0] if parts is not None and parts[1] == 3 else None

    def enclosing(self, root: Node, fused: Node) -> list[Node]:
        """The nodes after `root` that would take `fused` into a larger pattern on the next
        sweep: the Multiply(x, .) of an HSwish over an HSigmoid, the Tanh and Multiply(x, .) of
        a Mish over a SoftPlus (so that naming one keeps the whole pattern unfused)."""
        chain = {"HSigmoid": ("Multiply",), "SoftPlus": ("Tanh", "Multiply")}.get(fused.op, ())
        x, node, found = fused.inputs[0], root, []
        for op in chain:
            readers = self.uses.get(id(node), [])
            if len(readers) != 1 or readers[0][0].op != op:
                return []
            node = readers[0][0]
            found.append(node)
        if found and x not in found[-1].inputs:
            return []
        return found

    # -- the patterns -----------------------------------------------------------------------
    def match(self, graph: Graph, node: Node) -> Output | None:
        if node.op == "Log":
            return self.softplus(graph, node)
        product = self.product(node)
        if product is None:
            return None
        factors, scale = product
        if len(factors) == 1:
            return self.hsigmoid(graph, node, factors[0], scale)
        if len(factors) != 2:
            return None
        for x, term in (factors, factors[::-1]):
            if x.shape != node.outputs[0].shape:
                continue
            for pattern in (self.hswish, self.swish, self.mish, self.gelu_erf, self.gelu_tanh):
                fused = pattern(graph, node, x, term, scale)
                if fused is not None:
                    return fused
        return None

    def softplus(self, graph: Graph, log: Node) -> Output | None:
        parts = self.plus_constant(log.inputs[0])
        if parts is None or parts[1] != 1:
            return None
        exp = self.private_op(parts[0], "Exp")
        if exp is None:
            return None
        return graph.op("SoftPlus", exp.inputs[0], name=log.name)

    def hsigmoid(self, graph: Graph, node: Node, factor: Output, scale: float) -> Output | None:
        x = self.hsigmoid_times_6(factor)
        if x is None or not close(scale, 1 / 6, 1e-5) or x.shape != node.outputs[0].shape:
            return None
        return graph.op("HSigmoid", x, name=node.name)

    def hswish(self, graph, node, x, term, scale) -> Output | None:
        if close(scale, 1 / 6, 1e-5) and self.hsigmoid_times_6(term) == x:
            return graph.op("HSwish", x, name=node.name)
        hsigmoid = self.private_op(term, "HSigmoid")
        if scale == 1 and hsigmoid is not None and hsigmoid.inputs[0] == x:
            return graph.op("HSwish", x, name=node.name)
        return None

    def swish(self, graph, node, x, term, scale) -> Output | None:
        sigmoid = self.private_op(term, "Sigmoid")
        if scale != 1 or sigmoid is None:
            return None
        base, beta = self.linear(sigmoid.inputs[0])
        if base != x:
            return None
        if beta == 1:
            return graph.op("Swish", x, name=node.name)
        beta_const = graph.const(np.array(beta, dtype=_numpy_type(x)), name=f"{node.name}/beta")
        return graph.op("Swish", x, beta_const, name=node.name)

    def mish(self, graph, node, x, term, scale) -> Output | None:
        tanh = self.private_op(term, "Tanh")
        if scale != 1 or tanh is None:
            return None
        softplus = self.private_op(tanh.inputs[0], "SoftPlus")
        if softplus is None or softplus.inputs[0] != x:
            return None
        return graph.op("Mish", x, name=node.name)

    def one_plus(self, term: Output, op: str) -> tuple[Node, float] | None:
        """(the `op` node, its sign) for 1 + op(.) or 1 - op(.)."""
        parts = self.plus_constant(term)
        if parts is not None and parts[1] == 1:
            inner = self.private_op(parts[0], op)
            return (inner, 1.0) if inner is not None else None
        sub = self.private_op(term, "Subtract")
        if sub is None or scalar(sub.inputs[0]) != 1:
            return None
        inner = self.private_op(sub.inputs[1], op)
        return (inner, -1.0) if inner is not None else None

    def gelu_erf(self, graph, node, x, term, scale) -> Output | None:
        found = self.one_plus(term, "Erf")
        if found is None or not close(scale, 0.5):
            return None
        erf, sign = found
        base, k = self.linear(erf.inputs[0])
        if base != x or not close(sign * k, SQRT1_2):
            return None
        return graph.op("Gelu", x, name=node.name, approximation_mode="ERF")

    def gelu_tanh(self, graph, node, x, term, scale) -> Output | None:
        found = self.one_plus(term, "Tanh")
        if found is None or found[1] != 1 or not close(scale, 0.5):
            return None
        inner, k = self.linear(found[0].inputs[0])
        if not close(k, SQRT_2_OVER_PI) or not self.x_plus_cubic(inner, x):
            return None
        return graph.op("Gelu", x, name=node.name, approximation_mode="TANH")

    def x_plus_cubic(self, output: Output, x: Output) -> bool:
        """Whether `output` is x + 0.044715 * x^3 (x^3 as Power(x, 3) or x * x * x)."""
        add = self.private_op(output, "Add")
        if add is None:
            return False
        for first, cubic in (add.inputs, add.inputs[::-1]):
            if first != x:
                continue
            node = self.private(cubic)
            product = self.product(node) if node is not None else None
            if product is None:
                continue
            factors, a = product
            if factors == [x, x, x] and close(a, GELU_CUBIC):
                return True
            if len(factors) == 1 and close(a, GELU_CUBIC):
                power = self.private_op(factors[0], "Power")
                if power is not None and power.inputs[0] == x and scalar(power.inputs[1]) == 3:
                    return True
        return False


def _numpy_type(output: Output):
    return {"f32": np.float32, "f16": np.float16, "f64": np.float64}.get(output.element_type,
                                                                          np.float32)
