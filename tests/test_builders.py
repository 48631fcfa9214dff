"""The framework-agnostic builders both frontends translate into (converter/frontends/builders):
the ops and constants each builds, BatchNorm's numbers through OpenVINO, and the import rules
that keep converter.graph, converter.ops and the builders free of cycles and of frameworks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from converter.errors import InternalError
from converter.frontends.builders import batch_norm, constants, elementwise, layout, per_channel, reduction
from converter.graph import Graph
from graph_helpers import op_counts, rng_input, run_graph

REPO = Path(__file__).resolve().parent.parent


def _nodes_by_name(graph: Graph) -> dict:
    return {node.name: node for node in graph.nodes()}


# -- element-wise ----------------------------------------------------------------------------
def test_unary_builds_the_named_op_on_its_input():
    g = Graph()
    x = g.parameter("x", (2, 3), "f32")
    out = elementwise.unary(g, "Sigmoid", x, name="act")
    assert (out.node.op, out.node.name, out.node.inputs, out.node.attrs) == ("Sigmoid", "act", [x], {})
    assert (out.shape, out.element_type) == ((2, 3), "f32")


def test_binary_broadcasts_numpy_style_and_takes_extra_attributes():
    g = Graph()
    a, b = g.parameter("a", (2, 3), "i32"), g.parameter("b", (3,), "i32")
    out = elementwise.binary(g, "Divide", a, b, name="div", m_pythondiv=False)
    assert out.node.op == "Divide" and out.node.inputs == [a, b]
    assert out.node.attrs == {"auto_broadcast": "numpy", "m_pythondiv": False}
    assert out.shape == (2, 3)


@pytest.mark.parametrize("build, op", [(elementwise.unary, "Add"), (elementwise.binary, "ReLU")])
def test_element_wise_builders_refuse_ops_of_the_other_kind(build, op):
    g = Graph()
    x = g.parameter("x", (2,), "f32")
    with pytest.raises(InternalError):
        build(g, op, *([x] if build is elementwise.unary else [x, x]), name="n")


def test_every_frontend_name_maps_onto_a_shared_op():
    from converter.frontends.onnx.handlers import activation, elementwise as onnx_elementwise, reduce
    from converter.frontends.tf.handlers import elementwise as tf_elementwise, math

    assert set(activation.UNARY.values()) <= elementwise.UNARY_OPS
    assert set(tf_elementwise._UNARY.values()) <= elementwise.UNARY_OPS
    assert set(onnx_elementwise.BINARY.values()) <= elementwise.BINARY_OPS
    assert set(onnx_elementwise.VARIADIC.values()) <= elementwise.BINARY_OPS
    assert set(tf_elementwise._BINARY.values()) <= elementwise.BINARY_OPS
    assert set(reduce.REDUCTIONS.values()) <= reduction.REDUCTION_OPS
    assert set(math._REDUCTIONS.values()) <= reduction.REDUCTION_OPS


# -- reductions, constants, layout -------------------------------------------------------------
def test_reduce_reads_its_axes_input_and_keeps_dims_as_told():
    g = Graph()
    x = g.parameter("x", (2, 3, 4), "f32")
    axes = g.const(np.array([0, 2], np.int64), name="axes")
    out = reduction.reduce(g, "ReduceSum", x, axes, keep_dims=1, name="sum")
    assert out.node.op == "ReduceSum" and out.node.inputs == [x, axes]
    assert out.node.attrs == {"keep_dims": True} and out.shape == (1, 3, 1)
    with pytest.raises(InternalError):
        reduction.reduce(g, "ArgMax", x, axes, keep_dims=False, name="bad")


@pytest.mark.parametrize("element_type, dtype", [("f16", np.float16), ("i32", np.int32), (None, np.float32)])
def test_scalar_like_takes_the_element_type_of_its_model(element_type, dtype):
    g = Graph()
    like = g.parameter("x", (2,), element_type)
    out = constants.scalar_like(g, 3, like, name="three")
    assert out.node.op == "Const" and out.node.name == "three"
    assert out.value.shape == () and out.value.dtype == dtype and out.value == 3


def test_transpose_permutes_by_an_i64_constant():
    g = Graph()
    x = g.parameter("x", (1, 2, 3, 4), "f32")
    out = layout.transpose(g, x, (0, 2, 3, 1), name="t", perm_name="t/perm")
    order = out.node.inputs[1]
    assert out.node.op == "Transpose" and out.node.name == "t" and order.node.name == "t/perm"
    assert order.value.dtype == np.int64 and order.value.tolist() == [0, 2, 3, 1]
    assert out.shape == (1, 3, 4, 2)


# -- per-channel -------------------------------------------------------------------------------
@pytest.mark.parametrize("rank, axis, channels, shape", [
    (4, 1, -1, [1, -1, 1, 1]), (4, -1, 3, [1, 1, 1, 3]), (3, 1, 5, [1, 5, 1]),
    (4, 1, 1, [1, 1, 1, 1]), (0, -1, 1, []),
])
def test_channel_shape_puts_the_channels_on_their_axis(rank, axis, channels, shape):
    assert per_channel.channel_shape(rank, axis, channels) == shape


def test_reshape_to_channel_axis_gives_one_c_one_one():
    g = Graph()
    vector = g.parameter("v", (3,), "f32")
    out = per_channel.reshape_to_channel_axis(g, vector, 4, 1, name="v/shape", helper_name="v/pattern")
    pattern = out.node.inputs[1]
    assert out.node.op == "Reshape" and out.node.attrs == {"special_zero": False}
    assert pattern.node.name == "v/pattern" and pattern.value.tolist() == [1, -1, 1, 1]
    assert out.shape == (1, 3, 1, 1)


def test_unsqueeze_to_channel_axis_adds_only_trailing_axes():
    g = Graph()
    vector = g.parameter("v", (3,), "f32")
    out = per_channel.unsqueeze_to_channel_axis(g, vector, 4, 1, name="v/channels", helper_name="v/axes")
    axes = out.node.inputs[1]
    assert out.node.op == "Unsqueeze" and axes.node.name == "v/axes"
    assert axes.value.dtype == np.int64 and axes.value.tolist() == [1, 2]
    assert out.shape == (3, 1, 1)


def test_channels_last_need_neither_an_op_nor_the_rank():
    g = Graph()
    vector = g.parameter("v", (3,), "f32")
    assert per_channel.unsqueeze_to_channel_axis(g, vector, None, -1, "n", "h") == vector
    with pytest.raises(InternalError):
        per_channel.unsqueeze_to_channel_axis(g, vector, None, 1, "n", "h")


def test_preprocessing_constants_broadcast_along_the_channel_axis():
    from converter.passes.preprocessing import _per_channel

    g = Graph()
    x = g.parameter("x", (1, 8, 8, 3), "f32")
    assert _per_channel(g, (1.0, 2.0, 3.0), 4, 3, x, "m").value.shape == (1, 1, 1, 3)
    assert _per_channel(g, (2.0,), 4, 3, x, "s").value.shape == (1, 1, 1, 1)


# -- batch normalization -----------------------------------------------------------------------
STATISTICS = ("gamma", "beta", "mean", "var")


def _batch_norm_graph(shape, channel_axis, **kwargs):
    rng = np.random.default_rng(3)
    channels = shape[channel_axis]
    values = {key: rng.uniform(0.5, 1.5, channels).astype(np.float32) for key in STATISTICS}
    g = Graph()
    x = g.parameter("x", shape, "f32")
    stats = [g.const(values[key], name=key) for key in STATISTICS]
    out = batch_norm.batch_norm_inference(g, x, *stats, epsilon=1e-3, channel_axis=channel_axis,
                                          name="bn", **kwargs)
    g.result(out, "y")
    return g, values


def _reference(x, values, channel_axis):
    shape = [1] * x.ndim
    shape[channel_axis] = -1
    gamma, beta, mean, var = (values[key].reshape(shape) for key in STATISTICS)
    return (x - mean) / np.sqrt(var + 1e-3) * gamma + beta


def test_batch_norm_builds_a_per_channel_multiply_and_add():
    g, _ = _batch_norm_graph((1, 3, 4, 4), 1)
    nodes = _nodes_by_name(g)
    assert [nodes[f"bn/{step}"].op for step in ("var_eps", "std", "factor", "scaled_mean", "shift",
                                                "factor_shape", "scale", "shift_shape")] == \
        ["Add", "Sqrt", "Divide", "Multiply", "Subtract", "Reshape", "Multiply", "Reshape"]
    assert nodes["bn"].op == "Add" and nodes["bn"].inputs[0].node is nodes["bn/scale"]
    epsilon = nodes["bn/epsilon"].value
    assert epsilon.dtype == np.float32 and epsilon.shape == () and np.isclose(epsilon, 1e-3)
    assert op_counts(g)["Convert"] == 0


def test_batch_norm_keeps_the_names_a_frontend_gives_its_steps():
    renamed = {"factor": "k", "scaled_mean": "mean_k", "shift": "b", "scaled": "Multiply"}
    g, _ = _batch_norm_graph((1, 4, 4, 3), -1, renamed=renamed,
                             to_channels=per_channel.unsqueeze_to_channel_axis)
    names = set(_nodes_by_name(g))
    assert {"bn/k", "bn/mean_k", "bn/b", "bn/Multiply", "bn"} <= names
    assert op_counts(g)["Unsqueeze"] == 0  # channels last: the [C] vectors broadcast as they are
    with pytest.raises(InternalError):
        _batch_norm_graph((1, 3), 1, renamed={"gamma": "g"})


def test_batch_norm_converts_factor_and_shift_to_the_data_type():
    g = Graph()
    x = g.parameter("x", (1, 2, 2, 3), "f16")
    stats = [g.const(np.ones(3, np.float32), name=key) for key in STATISTICS]
    out = batch_norm.batch_norm_inference(g, x, *stats, epsilon=1e-3, channel_axis=-1, name="bn",
                                          to_channels=per_channel.unsqueeze_to_channel_axis)
    g.result(out, "y")
    nodes = _nodes_by_name(g)
    assert nodes["bn/factor_type"].attrs == {"destination_type": "f16"}
    assert nodes["bn/shift_type"].attrs == {"destination_type": "f16"}
    assert out.element_type == "f16"


@pytest.mark.parametrize("shape, channel_axis, to_channels", [
    ((2, 3, 5, 5), 1, per_channel.reshape_to_channel_axis),
    ((2, 3, 5, 5), 1, per_channel.unsqueeze_to_channel_axis),
    ((2, 5, 5, 3), -1, per_channel.unsqueeze_to_channel_axis),
    ((2, 5, 5, 3), 3, per_channel.reshape_to_channel_axis),
    ((4, 3), 1, per_channel.reshape_to_channel_axis),
])
def test_batch_norm_computes_what_numpy_does(tmp_path, shape, channel_axis, to_channels):
    g, values = _batch_norm_graph(shape, channel_axis, to_channels=to_channels)
    x = rng_input(shape, seed=5)
    got = run_graph(g, tmp_path, {"x": x})["y"]
    np.testing.assert_allclose(got, _reference(x, values, channel_axis), rtol=1e-5, atol=1e-5)


# -- import rules ------------------------------------------------------------------------------
def _fresh_python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_graph_imports_no_op_module():
    _fresh_python("import sys, converter.graph\n"
                  "loaded = [m for m in sys.modules if m.startswith('converter.ops')]\n"
                  "assert not loaded, loaded")


def test_ops_import_first_in_a_fresh_interpreter():
    _fresh_python("import converter.ops, converter.graph\nassert converter.ops.OPS")


def test_builders_know_no_framework():
    _fresh_python("import sys, importlib\n"
                  "for m in ('batch_norm', 'constants', 'elementwise', 'layout', 'per_channel', 'reduction'):\n"
                  "    importlib.import_module('converter.frontends.builders.' + m)\n"
                  "bad = [m for m in sys.modules if m.split('.')[0] in ('onnx', 'tensorflow', 'google')\n"
                  "       or m.startswith(('converter.frontends.onnx', 'converter.frontends.tf'))]\n"
                  "assert not bad, bad")
