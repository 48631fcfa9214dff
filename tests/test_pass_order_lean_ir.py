"""The whole pass list on frontend-shaped graphs: the IR comes out as lean as ovc's.

These check what the order of PIPELINE is responsible for (a pass repeated late because the
fusions before it leave it work), not any single pass."""
import numpy as np
import pytest

from converter.graph import Graph
from converter.options import ConversionOptions
from converter.passes import run_passes
from graph_helpers import conv_attrs, rng_input, run_graph, snapshot


def conv_batchnorm(beta: float, mean: float) -> Graph:
    """Convolution -> BatchNorm (inference) decomposed as a frontend does: Multiply by
    gamma / sqrt(var + eps), Add of beta - mean * that, each a small constant subgraph."""
    rng = np.random.default_rng(4)
    g = Graph("conv_bn")
    x = g.parameter("x", (1, 3, 8, 8), "f32")
    y = g.op("Convolution", x, g.const(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
             **conv_attrs())
    gamma = g.const(rng.uniform(0.5, 1.5, (1, 4, 1, 1)).astype(np.float32))
    variance = g.const(rng.uniform(0.5, 1.5, (1, 4, 1, 1)).astype(np.float32))
    scale = g.op("Divide", gamma, g.op("Sqrt", g.op("Add", variance, g.const(np.float32(1e-3)),
                                                    auto_broadcast="numpy")),
                 auto_broadcast="numpy")
    shift = g.op("Subtract", g.const(np.full((1, 4, 1, 1), beta, np.float32)),
                 g.op("Multiply", g.const(np.full((1, 4, 1, 1), mean, np.float32)), scale,
                      auto_broadcast="numpy"), auto_broadcast="numpy")
    y = g.op("Add", g.op("Multiply", y, scale, auto_broadcast="numpy"), shift,
             auto_broadcast="numpy")
    g.result(g.op("ReLU", y), "y")
    return g


def computing_ops(graph: Graph) -> list[str]:
    return [n.op for n in graph.nodes() if n.op not in ("Const", "Parameter", "Result")]


@pytest.mark.parametrize("beta, mean, expected", [
    (0.0, 0.0, ["Convolution", "ReLU"]),            # a fresh Keras BatchNorm: no shift at all
    (0.2, 0.1, ["Convolution", "Add", "ReLU"]),     # the seed's example: one conv, one bias Add
])
def test_a_batchnorm_leaves_at_most_the_bias_add(tmp_path, beta, mean, expected):
    graph = conv_batchnorm(beta, mean)
    before = snapshot(graph)
    run_passes(graph, ConversionOptions())
    assert computing_ops(graph) == expected
    feeds = {"x": rng_input((1, 3, 8, 8))}
    np.testing.assert_allclose(run_graph(graph, tmp_path / "after", feeds)["y"],
                               run_graph(before, tmp_path / "before", feeds)["y"],
                               rtol=1e-5, atol=1e-5)
