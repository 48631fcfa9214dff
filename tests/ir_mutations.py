"""Deliberately broken copies of a converted IR, for testing that checks catch them.

Each mutation reads `NAME.xml` and `NAME.bin` (IR v11, as `converter.ir.writer` writes them),
changes what the model computes in one specific way a buggy converter could, and writes
`out_xml` with its `.bin` beside it. The result stays a valid IR: OpenVINO reads and compiles it.

    swap_input_channels(xml, out)   # the first convolution reads its input channels reversed
    double_mean(xml, out)           # the mean is subtracted twice
    perturb_first_conv(xml, out)    # the first convolution's weights are 1% off
    cast_output(xml, out)           # the first output comes out as int32
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lxml import etree

_NUMPY_TYPES = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i64": np.int64,
                "i32": np.int32, "i8": np.int8, "u8": np.uint8}
_PRECISIONS = {"f32": "FP32", "f16": "FP16", "i32": "I32", "i64": "I64", "u8": "U8", "i8": "I8"}
_DECOMPRESSION = "Convert"  # FP16 IRs store f16 weights and convert them to f32 on load


@dataclass
class EditableIR:
    """An IR's XML tree and .bin bytes, with the lookups the mutations need."""

    root: etree._Element
    weights: bytearray

    @classmethod
    def read(cls, xml: str | Path) -> "EditableIR":
        xml = Path(xml)
        root = etree.parse(str(xml), etree.XMLParser(remove_blank_text=True)).getroot()
        return cls(root, bytearray(xml.with_suffix(".bin").read_bytes()))

    def write(self, out_xml: str | Path) -> Path:
        out_xml = Path(out_xml)
        out_xml.parent.mkdir(parents=True, exist_ok=True)
        etree.ElementTree(self.root).write(str(out_xml), pretty_print=True, xml_declaration=True,
                                           encoding="utf-8")
        out_xml.with_suffix(".bin").write_bytes(bytes(self.weights))
        return out_xml

    # -- layers and edges ---------------------------------------------------------------------
    def layers(self, kind: str | None = None) -> list[etree._Element]:
        """Layers in file order (the writer's topological order), of one type if given."""
        found = self.root.findall("layers/layer")
        return [layer for layer in found if kind is None or layer.get("type") == kind]

    def layer(self, layer_id: str) -> etree._Element:
        return self.root.find(f"layers/layer[@id='{layer_id}']")

    def edges(self) -> list[etree._Element]:
        return self.root.findall("edges/edge")

    def producer(self, layer: etree._Element, port: str) -> tuple[etree._Element, str]:
        """The layer and output port feeding input `port` of `layer`."""
        for edge in self.edges():
            if edge.get("to-layer") == layer.get("id") and edge.get("to-port") == port:
                return self.layer(edge.get("from-layer")), edge.get("from-port")
        raise ValueError(f"nothing feeds port {port} of layer {layer.get('name')!r}")

    def consumer_edges(self, layer: etree._Element, port: str) -> list[etree._Element]:
        return [e for e in self.edges()
                if e.get("from-layer") == layer.get("id") and e.get("from-port") == port]

    def add_edge(self, source: etree._Element, source_port: str, target: etree._Element,
                 target_port: str) -> None:
        etree.SubElement(self.root.find("edges"), "edge", {
            "from-layer": source.get("id"), "from-port": source_port,
            "to-layer": target.get("id"), "to-port": target_port})

    def new_layer(self, name: str, kind: str, data: dict[str, str] | None = None) -> etree._Element:
        """An empty layer with a fresh id, appended after the others."""
        next_id = max(int(layer.get("id")) for layer in self.layers()) + 1
        layer = etree.SubElement(self.root.find("layers"), "layer", id=str(next_id), name=name,
                                 type=kind, version="opset1")
        if data is not None:
            etree.SubElement(layer, "data", data)
        return layer

    # -- constants ----------------------------------------------------------------------------
    def weight_const(self, layer: etree._Element, port: str = "1") -> etree._Element:
        """The Const feeding `port` of `layer`, looking through a decompression Convert."""
        source, _ = self.producer(layer, port)
        if source.get("type") == _DECOMPRESSION:
            source, _ = self.producer(source, input_port_ids(source)[0])
        if source.get("type") != "Const":
            raise ValueError(f"port {port} of {layer.get('name')!r} is not fed by a constant")
        return source

    def const_value(self, const: etree._Element) -> np.ndarray:
        data = const.find("data")
        offset, size = int(data.get("offset")), int(data.get("size"))
        dtype = _NUMPY_TYPES[data.get("element_type")]
        return np.frombuffer(bytes(self.weights[offset:offset + size]), dtype).reshape(const_shape(const)).copy()

    def set_const_value(self, const: etree._Element, value: np.ndarray) -> None:
        """Overwrite a constant in place (same type and shape, so the same bytes' length)."""
        data = const.find("data")
        offset, size = int(data.get("offset")), int(data.get("size"))
        blob = np.ascontiguousarray(value, dtype=_NUMPY_TYPES[data.get("element_type")]).tobytes()
        if len(blob) != size:
            raise ValueError(f"{const.get('name')!r}: {len(blob)} bytes for a {size}-byte constant")
        self.weights[offset:offset + size] = blob


def input_port_ids(layer: etree._Element) -> list[str]:
    return [port.get("id") for port in layer.findall("input/port")]


def output_port(layer: etree._Element, port_id: str | None = None) -> etree._Element:
    ports = layer.findall("output/port")
    return ports[0] if port_id is None else next(p for p in ports if p.get("id") == port_id)


def const_shape(const: etree._Element) -> tuple[int, ...]:
    return tuple(int(dim.text) for dim in output_port(const).findall("dim"))


def port_copy(port: etree._Element, port_id: int, precision: str | None = None) -> etree._Element:
    """A copy of `port` (its dims, precision) under a new id, without tensor names."""
    copy = etree.fromstring(etree.tostring(port))
    copy.set("id", str(port_id))
    copy.attrib.pop("names", None)
    if precision is not None:
        copy.set("precision", precision)
    return copy


def unshared_copy(ir: EditableIR, const: etree._Element) -> None:
    """Give `const` a blob of its own at the end of the .bin, so that editing it changes no
    other constant (the writer stores identical blobs once)."""
    data = const.find("data")
    offset, size = int(data.get("offset")), int(data.get("size"))
    data.set("offset", str(len(ir.weights)))
    ir.weights += ir.weights[offset:offset + size]


def first_convolution(ir: EditableIR) -> etree._Element:
    convolutions = ir.layers("Convolution")
    if not convolutions:
        raise ValueError("the IR has no Convolution layer")
    return convolutions[0]


def _edit_first_conv_weights(xml, out_xml, change) -> Path:
    ir = EditableIR.read(xml)
    const = ir.weight_const(first_convolution(ir))
    unshared_copy(ir, const)
    ir.set_const_value(const, change(ir.const_value(const)))
    return ir.write(out_xml)


# -- the mutations -----------------------------------------------------------------------------
def swap_input_channels(xml: str | Path, out_xml: str | Path) -> Path:
    """The first Convolution's weights [out, in, kh, kw] with the input-channel axis reversed:
    the IR behaves as if it reversed the image's channels itself."""
    return _edit_first_conv_weights(xml, out_xml, lambda w: w[:, ::-1])


def perturb_first_conv(xml: str | Path, out_xml: str | Path, factor: float = 1.01) -> Path:
    """The first Convolution's weights times `factor`, in their own type (f32 or f16)."""
    return _edit_first_conv_weights(xml, out_xml, lambda w: (w.astype(np.float64) * factor).astype(w.dtype))


def double_mean(xml: str | Path, out_xml: str | Path) -> Path:
    """The input's mean subtracted a second time, right after the first subtraction.

    The mean is the preprocessing pass's Subtract (`<input>/mean`) reached from a Parameter;
    when fusing left none, a Subtract of the `mean_values` recorded in the IR's conversion
    parameters is put right after the Parameter (after its channel reversal) instead."""
    ir = EditableIR.read(xml)
    found = mean_subtract(ir)
    if found is not None:
        subtract, mean_source = found
        _subtract_after(ir, subtract, output_port(subtract).get("id"), *mean_source)
    else:
        parameter = ir.layers("Parameter")[0]
        const = _mean_const(ir, parameter)
        layer, port = after_channel_reversal(ir, parameter)
        _subtract_after(ir, layer, port, const, output_port(const).get("id"))
    return ir.write(out_xml)


def after_channel_reversal(ir: EditableIR, parameter: etree._Element) -> tuple[etree._Element, str]:
    """Where the mean belongs: the output of the Gathers that reverse the channels of
    `parameter`, if it has any (the Model Optimizer reverses first, then subtracts)."""
    layer, port = parameter, output_port(parameter).get("id")
    while True:
        edges = ir.consumer_edges(layer, port)
        consumer = ir.layer(edges[0].get("to-layer")) if len(edges) == 1 else None
        if consumer is None or consumer.get("type") != "Gather":
            return layer, port
        layer, port = consumer, output_port(consumer).get("id")


def mean_subtract(ir: EditableIR) -> tuple[etree._Element, tuple[etree._Element, str]] | None:
    """The first Subtract fed, through preprocessing Gathers only, by a Parameter, and the
    layer and port that give it the mean."""
    for subtract in ir.layers("Subtract"):
        source, _ = ir.producer(subtract, input_port_ids(subtract)[0])
        while source.get("type") == "Gather":
            source, _ = ir.producer(source, input_port_ids(source)[0])
        if source.get("type") == "Parameter":
            return subtract, ir.producer(subtract, input_port_ids(subtract)[1])
    return None


def _subtract_after(ir: EditableIR, layer: etree._Element, port: str,
                    mean: etree._Element, mean_port: str) -> etree._Element:
    """Insert `x - mean` on output `port` of `layer`: its consumers read the new Subtract."""
    produced = output_port(layer, port)
    subtract = ir.new_layer(f"{layer.get('name')}/mean_again", "Subtract", {"auto_broadcast": "numpy"})
    inputs = etree.SubElement(subtract, "input")
    inputs.append(port_copy(produced, 0))
    inputs.append(port_copy(output_port(mean, mean_port), 1))
    etree.SubElement(subtract, "output").append(port_copy(produced, 2))
    _move_tensor_names(produced, output_port(subtract))
    for edge in ir.consumer_edges(layer, port):
        edge.set("from-layer", subtract.get("id"))
        edge.set("from-port", "2")
    ir.add_edge(layer, port, subtract, "0")
    ir.add_edge(mean, mean_port, subtract, "1")
    return subtract


def _move_tensor_names(source: etree._Element, target: etree._Element) -> None:
    names = source.attrib.pop("names", None)
    if names:
        target.set("names", names)


def _mean_const(ir: EditableIR, parameter: etree._Element) -> etree._Element:
    """A new f32 Const of the IR's recorded mean_values, shaped to broadcast on the channel
    axis of `parameter` (axis 1 when it has as many channels, else the last)."""
    recorded = ir.root.find("rt_info/conversion_parameters/mean_values")
    if recorded is None:
        raise ValueError("the IR subtracts no mean and records no mean_values")
    values = np.asarray(ast.literal_eval(recorded.get("value"))[0][1], np.float32)
    dims = [int(d.text) for d in output_port(parameter).findall("dim")]
    axis = 1 if dims[1] == values.size else len(dims) - 1
    shape = [1] * len(dims)
    shape[axis] = values.size
    const = ir.new_layer(f"{parameter.get('name')}/mean_values_again", "Const", {
        "element_type": "f32", "shape": ", ".join(map(str, shape)),
        "offset": str(len(ir.weights)), "size": str(values.nbytes)})
    ir.weights += values.tobytes()
    port = etree.SubElement(etree.SubElement(const, "output"), "port", id="0", precision="FP32")
    for dim in shape:
        etree.SubElement(port, "dim").text = str(dim)
    return const


def cast_output(xml: str | Path, out_xml: str | Path, to: str = "i32") -> Path:
    """A Convert to `to` inserted before the first Result; the output keeps its names."""
    ir = EditableIR.read(xml)
    result = ir.layers("Result")[0]
    source, source_port = ir.producer(result, "0")
    produced = output_port(source, source_port)
    convert = ir.new_layer(f"{source.get('name')}/cast_to_{to}", "Convert", {"destination_type": to})
    etree.SubElement(convert, "input").append(port_copy(produced, 0))
    etree.SubElement(convert, "output").append(port_copy(produced, 1, _PRECISIONS[to]))
    _move_tensor_names(produced, output_port(convert))
    result.find("input/port").set("precision", _PRECISIONS[to])
    edge = next(e for e in ir.consumer_edges(source, source_port) if e.get("to-layer") == result.get("id"))
    edge.set("from-layer", convert.get("id"))
    edge.set("from-port", "1")
    ir.add_edge(source, source_port, convert, "0")
    return ir.write(out_xml)
