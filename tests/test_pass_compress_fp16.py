"""compress_fp16: f32 weights stored as f16 with a decompression Convert, as OpenVINO does."""
import numpy as np

from converter.graph import Graph
from converter.options import ConversionOptions
from converter.passes import compress_fp16
from graph_helpers import op_counts, rng_input, run_graph


def model() -> Graph:
    g = Graph()
    x = g.parameter("x", (2, 3), "f32")
    w = g.const(np.array([[1e5, -1e5, 0.5]], np.float32))
    shift = g.const(np.float32(0.25))
    g.result(g.op("Add", g.op("Multiply", x, w, auto_broadcast="numpy"), shift, auto_broadcast="numpy"), "y")
    return g


def test_fp16_stores_half_and_decompresses(tmp_path):
    g = model()
    assert compress_fp16.run(g, ConversionOptions.from_flags({"data_type": "FP16"})) == 2
    converts = [n for n in g.nodes() if n.op == "Convert"]
    assert len(converts) == 2 and all(n.rt_info == {"decompression": "0"} for n in converts)
    assert all(n.value.dtype == np.float16 for n in g.nodes() if n.op == "Const")
    x = rng_input((2, 3))
    got = run_graph(g, tmp_path, {"x": x})["y"]
    expected = x * np.array([[65504, -65504, 0.5]], np.float32) + 0.25  # clipped to the f16 range
    np.testing.assert_allclose(got, expected, rtol=1e-3)
    xml = (tmp_path / "model.xml").read_text()
    assert 'element_type="f16"' in xml and '<attribute name="decompression" version="0"/>' in xml


def test_fp32_leaves_the_graph_alone():
    g = model()
    assert compress_fp16.run(g, ConversionOptions()) == 0
    assert op_counts(g)["Convert"] == 0
