"""The narrow element types (bf16, f8e4m3, f8e5m2, f8e8m0, f4e2m1, i4, u4): their numpy
dtypes, port precisions, ONNX reading, the .bin layout of constants (4-bit ones packed two to
a byte, as OpenVINO packs them), and the node cases of other operators on bfloat16 data."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from converter import element_types
from converter.errors import UserInputError
from converter.frontends.onnx.model import element_type, tensor_value, value_info_type
from converter.graph import Graph
from converter.ir.packing import bin_bytes, pack_nibbles, unpack_nibbles
from converter.ir.validator import validate_ir
from converter.ir.writer import write_ir
from modelzoo.runtime import run_openvino
from onnx_conformance_cases import assert_conforms, case_id, cases_of

NARROW = {
    "bf16": ([1.0, -2.5, 3.25e38, 0.0078125], TensorProto.BFLOAT16, "BF16"),
    "f8e4m3": ([1.0, -448.0, 0.015625, 3.5], TensorProto.FLOAT8E4M3FN, "F8E4M3"),
    "f8e5m2": ([1.0, -57344.0, 0.5, 3.0], TensorProto.FLOAT8E5M2, "F8E5M2"),
    "f8e8m0": ([1.0, 2.0, 0.5, 2.0 ** 100], TensorProto.FLOAT8E8M0, "F8E8M0"),
    "f4e2m1": ([0.5, -6.0, 3.0, 1.5, 0.0], TensorProto.FLOAT4E2M1, "F4E2M1"),
    "i4": ([1, -2, 3, -8, 7], TensorProto.INT4, "I4"),
    "u4": ([1, 2, 3, 15, 7], TensorProto.UINT4, "U4"),
}


@pytest.mark.parametrize("name", NARROW)
def test_numpy_dtype_round_trips_and_precision(name):
    dtype = element_types.to_numpy(name)
    assert element_types.from_numpy(dtype) == name
    assert element_types.precision(name) == NARROW[name][2]
    assert element_types.is_float(name) == (not name.startswith(("i", "u")))


@pytest.mark.parametrize("name", NARROW)
def test_onnx_types_read_as_the_ir_types(name):
    assert element_type(NARROW[name][1], "input 'x'") == name


@pytest.mark.parametrize("onnx_type", [TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2FNUZ,
                                       TensorProto.INT2, TensorProto.UINT2, TensorProto.STRING])
def test_types_openvino_lacks_are_refused_by_name(onnx_type):
    info = helper.make_tensor_value_info("x", onnx_type, [2])
    name = TensorProto.DataType.Name(onnx_type)
    with pytest.raises(UserInputError, match=f"input 'x' has element type {name}, which "
                                             f"OpenVINO IR cannot hold"):
        value_info_type(info)


def test_int4_initializer_reads_as_an_int4_array():
    values = np.array([1, -2, 7], ml_dtypes.int4)
    tensor = onnx.numpy_helper.from_array(values, "w")
    read = tensor_value(tensor)
    assert read.dtype == np.dtype(ml_dtypes.int4)
    np.testing.assert_array_equal(read.astype(np.int8), [1, -2, 7])


def test_nibbles_pack_low_first_and_pad_odd_counts():
    packed = pack_nibbles(np.array([0x1, 0xE, 0x3, 0x8, 0x7], np.uint8))
    assert packed.tolist() == [0xE1, 0x83, 0x07]
    assert unpack_nibbles(packed, 5).tolist() == [0x1, 0xE, 0x3, 0x8, 0x7]


def test_bin_bytes_of_int4_match_openvinos_layout():
    """The bytes `openvino.save_model` writes for i4 [1, -2, 3, -8, 7]: e1 83 07."""
    array = np.array([1, -2, 3, -8, 7], ml_dtypes.int4)
    assert bin_bytes(array, "i4").tobytes() == bytes([0xE1, 0x83, 0x07])
    assert bin_bytes(np.array([1.5], ml_dtypes.bfloat16), "bf16").tobytes() == b"\xc0\x3f"


def test_constants_of_every_narrow_type_round_trip_through_openvino(tmp_path):
    """Each constant, converted to f32 in the IR, reads back in OpenVINO with its values; the
    .bin sizes pass the validator (4-bit constants take half a byte per element)."""
    graph = Graph("narrow")
    graph.result(graph.parameter("x", (1,), "f32"), "x_out")  # an IR needs a Parameter
    for name, (values, _, _) in NARROW.items():
        constant = graph.const(np.array(values, element_types.to_numpy(name)), name=f"c_{name}")
        graph.result(graph.op("Convert", constant, name=f"to_f32_{name}", destination_type="f32"),
                     f"out_{name}")
    xml, _ = write_ir(graph, tmp_path / "narrow.xml")
    assert validate_ir(xml) == []
    outputs = run_openvino(xml, {"x": np.zeros(1, np.float32)})
    for name, (values, _, _) in NARROW.items():
        expected = np.array(values, element_types.to_numpy(name)).astype(np.float32)
        np.testing.assert_array_equal(outputs[f"out_{name}"], expected, err_msg=name)


def test_parameters_of_narrow_types_keep_their_precision(tmp_path):
    graph = Graph("params")
    for name in NARROW:
        parameter = graph.parameter(f"p_{name}", (4,), name)
        graph.result(graph.op("Convert", parameter, name=f"to_f32_{name}",
                              destination_type="f32"), f"out_{name}")
    xml, _ = write_ir(graph, tmp_path / "params.xml")
    text = xml.read_text()
    for name, (_, _, precision) in NARROW.items():
        assert f'element_type="{name}"' in text and f'precision="{precision}"' in text
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    assert {p.get_element_type().get_type_name() for p in model.inputs} == set(NARROW)


# Other operators' node cases on bfloat16 data: they pass once the type reads and feeds.
BFLOAT16_CASES = [c for c in cases_of("Celu", "Range") if "bfloat16" in c.name]


@pytest.mark.parametrize("case", BFLOAT16_CASES, ids=case_id)
def test_bfloat16_node_cases_of_other_operators(case):
    assert_conforms(case)
