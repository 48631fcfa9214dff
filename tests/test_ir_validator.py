"""The structural IR validator: a written IR passes, every kind of breakage is reported."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest
from lxml import etree

from converter.errors import UserInputError
from converter.ir.validator import IRValidationError, check_ir, validate_ir
from tinymodels import conv_weights, write_conv_relu_ir


@pytest.fixture(scope="module")
def valid_ir(tmp_path_factory) -> Path:
    weights, bias = conv_weights()
    return write_conv_relu_ir(tmp_path_factory.mktemp("ir") / "model.xml", weights, bias)


def edited(valid_ir: Path, tmp_path: Path, edit: Callable[[etree._Element], None]) -> Path:
    """A copy of the valid IR with `edit` applied to its XML tree."""
    root = etree.parse(str(valid_ir)).getroot()
    edit(root)
    xml_path = tmp_path / "broken.xml"
    xml_path.write_bytes(etree.tostring(root))
    shutil.copy(valid_ir.with_suffix(".bin"), xml_path.with_suffix(".bin"))
    return xml_path


def layer(root, name: str) -> etree._Element:
    return root.find(f"layers/layer[@name='{name}']")


def edge_to(root, layer_id: str, port: str = "0") -> etree._Element:
    return root.find(f"edges/edge[@to-layer='{layer_id}'][@to-port='{port}']")


def problems_of(valid_ir, tmp_path, edit) -> str:
    problems = validate_ir(edited(valid_ir, tmp_path, edit))
    assert problems, "the breakage was not reported"
    return "\n".join(problems)


def test_valid_ir_has_no_problems(valid_ir):
    assert validate_ir(valid_ir) == []
    check_ir(valid_ir)


def test_check_ir_raises_a_user_error_listing_problems(valid_ir, tmp_path):
    broken = edited(valid_ir, tmp_path, lambda r: r.set("version", "10"))
    with pytest.raises(IRValidationError) as info:
        check_ir(broken)
    assert isinstance(info.value, UserInputError)
    assert 'version="10"' in str(info.value) and str(broken) in str(info.value)


def test_malformed_xml(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text("<net version='11'><layers>")
    assert "cannot parse" in validate_ir(path)[0]


def test_duplicate_layer_id(valid_ir, tmp_path):
    text = problems_of(valid_ir, tmp_path, lambda r: layer(r, "conv").set("id", layer(r, "x").get("id")))
    assert "'conv' (Convolution): id 0 is already used by layer 0 'x' (Parameter)" in text


def test_missing_type_and_version(valid_ir, tmp_path):
    def edit(root):
        del layer(root, "y").attrib["version"]
    assert "'y' (ReLU): has no version attribute" in problems_of(valid_ir, tmp_path, edit)


def test_duplicate_port_id(valid_ir, tmp_path):
    def edit(root):
        layer(root, "conv").find("input/port[@id='1']").set("id", "0")
    assert "'conv' (Convolution): port id 0 is used twice" in problems_of(valid_ir, tmp_path, edit)


def test_output_port_ids_before_inputs(valid_ir, tmp_path):
    def edit(root):
        conv = layer(root, "conv")
        conv.find("output/port").set("id", "0")
        conv.find("input/port[@id='0']").set("id", "2")
    text = problems_of(valid_ir, tmp_path, edit)
    assert "'conv' (Convolution): input port ids [1, 2] must all come before output port ids [0]" in text


def test_output_section_before_input(valid_ir, tmp_path):
    def edit(root):
        conv = layer(root, "conv")
        conv.insert(0, conv.find("output"))
    assert "'conv' (Convolution): <output> comes before <input>" in problems_of(valid_ir, tmp_path, edit)


def test_edge_to_missing_layer_and_port(valid_ir, tmp_path):
    def edit(root):
        edges = root.findall("edges/edge")
        edges[0].set("from-layer", "99")
        edges[1].set("to-port", "7")
    text = problems_of(valid_ir, tmp_path, edit)
    assert "from-layer 99 does not exist" in text
    assert "has no port 7" in text


def test_edge_from_an_input_port(valid_ir, tmp_path):
    conv_id = etree.parse(str(valid_ir)).getroot().find("layers/layer[@name='conv']").get("id")

    def edit(root):
        edge = edge_to(root, layer(root, "conv/bias").get("id"))
        edge.set("from-port", "0")
    text = problems_of(valid_ir, tmp_path, edit)
    assert f"port 0 of layer {conv_id} 'conv' (Convolution) is not an output port" in text


def test_input_port_without_and_with_two_edges(valid_ir, tmp_path):
    def edit(root):
        relu_id = layer(root, "y").get("id")
        edge = edge_to(root, relu_id)
        edge.getparent().remove(edge)
        bias_edge = edge_to(root, layer(root, "conv/bias").get("id"), "1")
        etree.SubElement(root.find("edges"), "edge", dict(bias_edge.attrib))
    text = problems_of(valid_ir, tmp_path, edit)
    assert "'y' (ReLU): input port 0 has 0 incoming edges, expected exactly 1" in text
    assert "'conv/bias' (Add): input port 1 has 2 incoming edges" in text


def test_cycle(valid_ir, tmp_path):
    def edit(root):
        # The convolution's data now comes from the ReLU that consumes it.
        conv, relu = layer(root, "conv"), layer(root, "y")
        edge = edge_to(root, conv.get("id"))
        edge.set("from-layer", relu.get("id"))
        edge.set("from-port", "1")
    text = problems_of(valid_ir, tmp_path, edit)
    assert "cycle through" in text and "'conv' (Convolution)" in text and "'y' (ReLU)" in text


def test_no_parameter_or_result(valid_ir, tmp_path):
    def edit(root):
        for name in ("x", "y/sink_port_0"):
            layer(root, name).set("type", "Const" if name == "x" else "Identity")
    text = problems_of(valid_ir, tmp_path, edit)
    assert "no Parameter layer" in text and "no Result layer" in text


def test_edge_dims_and_precision_disagree(valid_ir, tmp_path):
    def edit(root):
        port = layer(root, "y").find("input/port")
        port.findall("dim")[1].text = "5"
        port.set("precision", "FP16")
    text = problems_of(valid_ir, tmp_path, edit)
    assert "'y' (ReLU) port 0: dims disagree, [1,4,8,8] at the source, [1,5,8,8]" in text
    assert "precision disagrees, FP32 at the source, FP16 at the target" in text


def test_const_unknown_element_type(valid_ir, tmp_path):
    text = problems_of(valid_ir, tmp_path,
                       lambda r: layer(r, "w").find("data").set("element_type", "f13"))
    assert "'w' (Const): unknown element_type 'f13'" in text


def test_const_shape_disagrees_with_port(valid_ir, tmp_path):
    text = problems_of(valid_ir, tmp_path, lambda r: layer(r, "w").find("data").set("shape", "4,3,3,2"))
    assert "'w' (Const): shape [4,3,3,2] does not match its output port dims [4,3,3,3]" in text


def test_const_size_disagrees_with_shape(valid_ir, tmp_path):
    text = problems_of(valid_ir, tmp_path, lambda r: layer(r, "w").find("data").set("size", "100"))
    assert "'w' (Const): size is 100 bytes, but shape [4, 3, 3, 3] of f32 needs 432" in text


def test_sub_byte_const_size_is_rounded_up(valid_ir, tmp_path):
    def as_u1(size):
        def edit(root):
            data = layer(root, "b").find("data")
            data.set("element_type", "u1")
            data.set("size", size)
        return edit
    # b holds 4 elements: 4 bits of u1 take one byte.
    assert not any("'b'" in p for p in validate_ir(edited(valid_ir, tmp_path, as_u1("1"))))
    assert "needs 1" in problems_of(valid_ir, tmp_path, as_u1("2"))


def test_const_beyond_the_bin(valid_ir, tmp_path):
    text = problems_of(valid_ir, tmp_path, lambda r: layer(r, "b").find("data").set("offset", "100000"))
    assert "'b' (Const): bytes 100000..100016 lie beyond the end of broken.bin" in text


def test_missing_and_short_bin(valid_ir, tmp_path):
    xml_path = edited(valid_ir, tmp_path, lambda r: None)
    bin_path = xml_path.with_suffix(".bin")
    bin_path.write_bytes(bin_path.read_bytes()[:-4])
    assert any("'b' (Const)" in p and "too short" in p for p in validate_ir(xml_path))
    bin_path.unlink()
    text = "\n".join(validate_ir(xml_path))
    assert f"the weights file {bin_path} does not exist" in text


def test_explicit_bin_path(valid_ir, tmp_path):
    xml_path = tmp_path / "other.xml"
    shutil.copy(valid_ir, xml_path)
    assert validate_ir(xml_path, valid_ir.with_suffix(".bin")) == []


def test_parameter_shape_disagrees_with_port(valid_ir, tmp_path):
    text = problems_of(valid_ir, tmp_path, lambda r: layer(r, "x").find("data").set("shape", "1,3,?,9"))
    assert "'x' (Parameter): shape [1,3,?,9] does not match its output port dims [1,3,8,8]" in text


def test_dynamic_parameter_dims_agree(valid_ir, tmp_path):
    def edit(root):
        layer(root, "x").find("data").set("shape", "?,3,8,8")
        for port in (layer(root, "x").find("output/port"), layer(root, "conv").find("input/port")):
            port.find("dim").text = "-1"
    assert validate_ir(edited(valid_ir, tmp_path, edit)) == []
