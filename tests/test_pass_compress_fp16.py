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


def test_constants_inside_a_loop_body_are_compressed_too(tmp_path):
    """A recurrent cell's kernels live in its Loop's body: FP16 stores them as f16 there too,
    as ovc does, and the IR still computes the same recurrence."""
    from lxml import etree
    from onnx import TensorProto, helper, numpy_helper

    from tests.onnx_testing import FLOAT, convert_and_compare, make_model

    kernel = np.random.default_rng(3).uniform(-0.5, 0.5, (4, 4)).astype(np.float32)
    body = helper.make_graph(
        [helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(kernel, "w")),
         helper.make_node("MatMul", ["h", "w"], ["h_next"]),
         helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h", FLOAT, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_next", FLOAT, [1, 4])])
    loop = helper.make_node("Loop", ["steps", "", "h0"], ["h_last"], body=body)
    model = make_model([loop], {"steps": ([], TensorProto.INT64), "h0": ([1, 4], FLOAT)},
                       {"h_last": ([1, 4], FLOAT)}, opset=13)
    feeds = {"steps": np.array(3, np.int64), "h0": rng_input((1, 4))}
    xml = convert_and_compare(model, tmp_path, feeds, rtol=1e-2, atol=1e-3, data_type="FP16")
    body_consts = etree.parse(str(xml)).findall(".//layer[@type='Loop']/body//layer[@type='Const']")
    types = [c.find("data").get("element_type") for c in body_consts]
    assert "f16" in types and "f32" not in types, types
