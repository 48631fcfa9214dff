"""Graph.sweep(): one topological pass that redirects readers to replacements as it goes, and
lets go of what it replaced as soon as nothing reads it any more."""
import gc
import weakref

import numpy as np

from converter.graph import Graph
from graph_helpers import conv_attrs


def two_convolutions() -> tuple[Graph, weakref.ref]:
    """x -> Conv(Transpose(w1)) -> Conv(Transpose(w2)) -> y, and a weak reference to w1."""
    g = Graph("sweep")
    x = g.parameter("x", (1, 2, 4, 4), "f32")
    order = g.const(np.array([3, 2, 0, 1], np.int64))
    w1 = np.ones((3, 3, 2, 2), np.float32)
    first_kernel = weakref.ref(w1)
    y = g.op("Convolution", x, g.op("Transpose", g.const(w1), order, name="t1"), **conv_attrs())
    del w1
    w2 = np.ones((3, 3, 2, 2), np.float32)
    y = g.op("Convolution", y, g.op("Transpose", g.const(w2), order, name="t2"), **conv_attrs())
    g.result(y, "y")
    return g, first_kernel


def fold_transposes(graph: Graph, on_visit) -> list[str]:
    """A tiny folding pass: each Transpose of constants becomes a Const of its value."""
    sweep = graph.sweep()
    visited = []
    for node in sweep:
        visited.append(node.name)
        on_visit(node)
        if node.op == "Transpose":
            sweep.replace(node.output(), folded(graph, node))
    return visited


def folded(graph: Graph, transpose):
    value, order = (source.value for source in transpose.inputs)
    return graph.const(np.transpose(value, order).copy())


def test_readers_after_a_replacement_read_the_replacement():
    graph, _ = two_convolutions()
    fold_transposes(graph, lambda node: None)
    convolutions = [n for n in graph.nodes() if n.op == "Convolution"]
    assert [c.inputs[1].node.op for c in convolutions] == ["Const", "Const"]
    assert all(c.inputs[1].value.shape == (2, 2, 3, 3) for c in convolutions)
    assert not any(n.op == "Transpose" for n in graph.nodes())


def test_a_replaced_constant_is_freed_while_the_sweep_goes_on():
    """Once the first Convolution reads the folded kernel, the original kernel is garbage:
    the sweep must not hold it until the pass ends (a model's weights would be in memory
    twice at the pass's peak)."""
    graph, first_kernel = two_convolutions()
    alive_at_t2 = []

    def on_visit(node):
        if node.name == "t2":
            gc.collect()
            alive_at_t2.append(first_kernel() is not None)

    fold_transposes(graph, on_visit)
    assert alive_at_t2 == [False]
