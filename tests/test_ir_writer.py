"""converter.ir.writer: IR v11 as OpenVINO reads it, byte-identical for the same graph."""
import numpy as np

from converter.graph import Graph
from converter.ir.writer import format_attribute, write_ir
from modelzoo.runtime import run_openvino


def graph() -> Graph:
    g = Graph("net")
    x = g.parameter("x", (-1, 4), "f32")
    shared = np.arange(4, dtype=np.float32)
    y = g.op("Add", x, g.const(shared), auto_broadcast="numpy")
    y = g.op("Multiply", y, g.const(shared.copy()), auto_broadcast="numpy")  # same bytes again
    g.result(y, "y")
    return g


def test_identical_constants_are_stored_once_and_dynamic_dims_written(tmp_path):
    xml, binary = write_ir(graph(), tmp_path / "net.xml")
    assert binary.stat().st_size == 16
    text = xml.read_text()
    assert 'shape="?,4"' in text and "<dim>-1</dim>" in text and 'version="11"' in text
    x = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(run_openvino(xml, {"x": x})["y"], (x + np.arange(4)) * np.arange(4))


def test_writing_twice_gives_the_same_bytes(tmp_path):
    first = [p.read_bytes() for p in write_ir(graph(), tmp_path / "a" / "net.xml")]
    second = [p.read_bytes() for p in write_ir(graph(), tmp_path / "b" / "net.xml")]
    assert first == second


def test_attribute_formatting_follows_openvino():
    assert format_attribute([1, 1]) == "1, 1"
    assert format_attribute(True) == "true"
    assert format_attribute(1e-5) == "1e-05"
    assert format_attribute("explicit") == "explicit"


def test_no_temporary_files_are_left(tmp_path):
    write_ir(graph(), tmp_path / "net.xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.bin", "net.xml"]
