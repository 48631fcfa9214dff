"""The pass contract: a pass rewrites the inside of the model, never its inputs or outputs.
`run_passes` records every Parameter and every graph output (shape and element type) before each
pass and compares after it; a change is an InternalError naming the pass, the tensor and both
values. Broken passes are registered by monkeypatching PIPELINE."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from converter import passes
from converter.errors import InternalError, UserInputError
from converter.graph import Graph
from converter.options import ConversionOptions
from converter.passes import Port, check_interface_kept, interface, run_passes


def two_output_graph() -> Graph:
    """x [1,4,6] -> ReLU -> "features"; x -> Sigmoid -> "scores"."""
    g = Graph()
    x = g.parameter("x", (1, 4, 6), "f32")
    g.result(g.op("ReLU", x, name="relu"), "features")
    g.result(g.op("Sigmoid", x, name="sigmoid"), "scores")
    return g


def register_pass(monkeypatch, run) -> None:
    """Make `run` the only pass, under the name `rogue`."""
    module = types.ModuleType("converter.passes.rogue")
    module.run = run
    monkeypatch.setitem(sys.modules, "converter.passes.rogue", module)
    monkeypatch.setattr(passes, "PIPELINE", ["constant_folding", "rogue"])


def contract_violation(monkeypatch, run) -> InternalError:
    register_pass(monkeypatch, run)
    with pytest.raises(InternalError) as caught:
        run_passes(two_output_graph(), ConversionOptions())
    assert caught.value.stage == "pass rogue"
    assert "pass rogue" in str(caught.value) and "converter bug" in str(caught.value)
    return caught.value


def reroute_output(graph: Graph, index: int, new_output) -> None:
    result = graph.results[index]
    names = result.inputs[0].info.names
    new_output.info.names |= names
    result.inputs[0] = new_output


def test_a_pass_changing_an_output_shape_is_caught_and_named(monkeypatch):
    def flatten_scores(graph, options):
        scores = graph.results[1].inputs[0]
        flat = graph.op("Reshape", scores, graph.const(np.array([1, 24], np.int64)), special_zero=False)
        reroute_output(graph, 1, flat)
        return 1

    error = contract_violation(monkeypatch, flatten_scores)
    text = str(error)
    assert "output scores" in text and "[1, 4, 6]" in text and "[1, 24]" in text
    assert "features" not in text


def test_a_pass_changing_an_output_element_type_is_caught_and_named(monkeypatch):
    def halve_features(graph, options):
        features = graph.results[0].inputs[0]
        reroute_output(graph, 0, graph.op("Convert", features, destination_type="f16"))
        return 1

    text = str(contract_violation(monkeypatch, halve_features))
    assert "output features" in text and "from f32 [1, 4, 6] to f16 [1, 4, 6]" in text


def test_a_pass_changing_an_input_is_caught_and_named(monkeypatch):
    def widen_the_input(graph, options):
        graph.parameters[0].outputs[0].shape = (1, 4, 7)
        return 1

    text = str(contract_violation(monkeypatch, widen_the_input))
    assert "input x" in text and "[1, 4, 6]" in text and "[1, 4, 7]" in text


def test_a_pass_dropping_an_output_is_caught(monkeypatch):
    def drop_scores(graph, options):
        graph.results.pop()
        return 1

    text = str(contract_violation(monkeypatch, drop_scores))
    assert "1 input(s) and 2 output(s)" in text and "1 input(s) and 1 output(s)" in text


def test_a_pass_leaving_shapes_that_do_not_fit_is_internal(monkeypatch):
    def bad_reshape(graph, options):
        scores = graph.results[1].inputs[0]
        reroute_output(graph, 1, graph.op("Reshape", scores, graph.const(np.array([1, 24], np.int64)),
                                          special_zero=False, name="the_reshape"))
        graph.results[1].inputs[0].node.inputs[1] = graph.const(np.array([5, 5], np.int64))
        return 1

    error = contract_violation(monkeypatch, bad_reshape)
    assert not isinstance(error, UserInputError)
    assert error.node is not None and error.node.name == "the_reshape"


def test_the_real_pipeline_keeps_the_interface():
    graph = two_output_graph()
    before = interface(graph)
    run_passes(graph, ConversionOptions(data_type="FP16", mean_values=(("", (1.0,)),)))
    assert interface(graph) == before


def port(shape, element_type="f32", kind="output") -> Port:
    return Port(kind, ("y",), shape, element_type)


@pytest.mark.parametrize("before,after", [
    (port((-1, 4)), port((2, 4))),      # a dynamic dimension became known
    (port(None), port((2, 4))),         # so did the rank
    (port((2, 4)), port((2, 4))),
])
def test_an_output_shape_may_only_become_better_known(before, after):
    check_interface_kept([before], [after], "pass x")


@pytest.mark.parametrize("before,after", [
    (port((2, 4)), port((-1, 4))),      # a static dimension became dynamic
    (port((2, 4)), port(None)),
    (port((-1, 4)), port((2, 4, 1))),   # the rank changed
    (port((2, 4)), port((2, 4), "i64")),
    (port((-1, 4), kind="input"), port((2, 4), kind="input")),  # inputs never change at all
])
def test_any_other_change_is_a_violation(before, after):
    with pytest.raises(InternalError, match="pass x"):
        check_interface_kept([before], [after], "pass x")
