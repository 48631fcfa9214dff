"""preprocessing: mean/scale/reverse-channels become ops right after the inputs."""
import numpy as np
import pytest

from converter.errors import UserInputError
from converter.graph import Graph
from converter.options import ConversionOptions
from converter.passes import preprocessing
from graph_helpers import op_counts, rng_input, run_graph


def identity_model(layout: str, shape) -> Graph:
    g = Graph()
    g.source_layout = layout
    x = g.parameter("data", shape, "f32")
    g.result(g.op("Multiply", x, g.const(np.float32(1.0)), auto_broadcast="numpy"), "out")
    return g


@pytest.mark.parametrize("layout,shape,axis", [("NCHW", (1, 3, 4, 4), 1), ("NHWC", (1, 4, 4, 3), 3)])
def test_ir_of_x_equals_model_of_reversed_normalized_x(tmp_path, layout, shape, axis):
    g = identity_model(layout, shape)
    options = ConversionOptions.from_flags({"mean_values": "[10,20,30]", "scale_values": "data[2,4,8]",
                                            "reverse_input_channels": True})
    assert preprocessing.run(g, options) == 1
    x = rng_input(shape, low=0, high=255)
    got = run_graph(g, tmp_path, {"data": x})["out"]
    bshape = [1] * 4
    bshape[axis] = 3
    mean = np.array([10, 20, 30], np.float32).reshape(bshape)
    scale = np.array([2, 4, 8], np.float32).reshape(bshape)
    expected = (np.flip(x, axis=axis) - mean) / scale
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-4)
    assert "data" in g.parameters[0].outputs[0].names


def test_scalar_scale_and_no_reverse_for_one_channel(tmp_path):
    g = identity_model("NCHW", (1, 1, 2, 2))
    preprocessing.run(g, ConversionOptions.from_flags({"scale": 255, "reverse_input_channels": True}))
    assert op_counts(g)["Gather"] == 0
    x = rng_input((1, 1, 2, 2), low=0, high=255)
    np.testing.assert_allclose(run_graph(g, tmp_path, {"data": x})["out"], x / 255, rtol=1e-6)


def test_wrong_channel_count_is_a_clear_error():
    g = identity_model("NCHW", (1, 3, 4, 4))
    with pytest.raises(UserInputError, match="mean_values gives 4 values for input 'data'"):
        preprocessing.run(g, ConversionOptions.from_flags({"mean_values": [1, 2, 3, 4]}))
