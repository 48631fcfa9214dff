"""Serialize a `Graph` as IR v11: `NAME.xml` (lxml) and `NAME.bin` (numpy bytes).

Layers get ids in the graph's topological order, constants are laid out in the .bin in that
same order with identical blobs stored once, and every attribute is formatted the way OpenVINO's
own serializer does, so the same graph always gives byte-identical files. The bodies of
control-flow layers (Loop, TensorIterator, If: see `converter.ops.control_flow`) are written
nested in their layer with their own layer ids, after its <port_map> and <back_edges> (If:
<then_port_map>, <else_port_map>), their constants in the same .bin. A node the writer
cannot express (an attribute its op does not define, a value with no text form) is an
InternalError naming the node: the graph it was given is ours.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree

from .. import element_types
from ..errors import InternalError, NodeRef, attributed
from ..graph import Graph, Node, Shape
from ..ops import spec
from .packing import bin_bytes


def format_attribute(value: Any) -> str:
    """An attribute value as OpenVINO's serializer writes it; TypeError for a value with no IR
    text form (a dict, None, an object), which only a converter bug can put on a node."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (str, int, np.integer)):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(format_attribute(v) for v in value)
    raise TypeError(f"a {type(value).__name__} ({value!r}) has no IR text form")


def _parameter_shape(shape: Shape) -> str:
    return "..." if shape is None else ",".join("?" if d == -1 else str(d) for d in shape)


def _add_port(parent: etree._Element, port_id: int, shape: Shape, element_type: str | None,
              names: set[str] | None = None) -> None:
    port = etree.SubElement(parent, "port", id=str(port_id),
                            precision=element_types.precision(element_type or "f32"))
    if names:
        port.set("names", ",".join(sorted(n.replace(",", "\\,") for n in names)))
    for dim in shape or ():
        etree.SubElement(port, "dim").text = str(dim)


class _BinLayout:
    """Places constant blobs in the .bin, storing each distinct blob once."""

    def __init__(self):
        self.blobs: list[np.ndarray] = []
        self.size = 0
        self._offsets: dict[tuple, int] = {}

    def place(self, array: np.ndarray) -> tuple[int, int]:
        data = np.ascontiguousarray(array)
        key = (data.dtype.str, data.nbytes, hashlib.blake2b(data.view(np.uint8).reshape(-1)).digest())
        if key not in self._offsets:
            self._offsets[key] = self.size
            self.blobs.append(data)
            self.size += data.nbytes
        return self._offsets[key], data.nbytes


def _layer_data(node: Node, layout: _BinLayout) -> dict[str, str] | None:
    if node.op == "Const":
        info = node.outputs[0]
        offset, size = layout.place(bin_bytes(node.value, info.element_type))
        return {"element_type": info.element_type, "shape": format_attribute(list(node.value.shape)),
                "offset": str(offset), "size": str(size)}
    if node.op == "Parameter":
        info = node.outputs[0]
        return {"shape": _parameter_shape(info.shape), "element_type": info.element_type}
    op = spec(node.op)
    body_keys = {key for _, key in getattr(op, "bodies", ())}  # written as nested graphs
    unknown = set(node.attrs) - set(op.attributes) - body_keys
    if unknown:
        raise InternalError(f"has attributes {sorted(unknown)} that the IR's {node.op} does not "
                            f"define (known: {list(op.attributes)})")
    data = {k: _attribute_text(k, node.attrs[k]) for k in op.attributes if k in node.attrs}
    return data if data or op.attributes else None


def _attribute_text(key: str, value: Any) -> str:
    try:
        return format_attribute(value)
    except TypeError as exc:
        raise InternalError(f"attribute {key!r}: {exc}") from exc


def build_xml(graph: Graph, rt_info: dict[str, Any] | None = None) -> tuple[etree._Element, _BinLayout]:
    layout = _BinLayout()
    net = etree.Element("net", name=graph.name, version="11")
    _write_graph(net, graph, layout)
    if rt_info:
        _add_rt_info(etree.SubElement(net, "rt_info"), rt_info)
    return net, layout


def _write_graph(parent: etree._Element, graph: Graph, layout: _BinLayout) -> dict[int, int]:
    """<layers> and <edges> of `graph` under `parent` (the <net>, or a body of a control-flow
    layer, whose layer ids start again at 0); returns id(node) -> layer id."""
    nodes = graph.nodes()
    ids = {id(node): i for i, node in enumerate(nodes)}
    layers = etree.SubElement(parent, "layers")
    edges = []
    for node in nodes:
        layer = etree.SubElement(layers, "layer", id=str(ids[id(node)]), name=node.name,
                                 type=node.op, version=spec(node.op).version)
        with attributed(node=NodeRef(node.op, node.name), doing="writing it"):
            data = _layer_data(node, layout)
        if data is not None:
            etree.SubElement(layer, "data", data)
        if node.rt_info:
            rt = etree.SubElement(layer, "rt_info")
            for key, version in sorted(node.rt_info.items()):
                etree.SubElement(rt, "attribute", name=key, version=version)
        bodies = getattr(spec(node.op), "bodies", ())
        for port_map_tag, body_key in bodies:
            _write_port_map(layer, port_map_tag, node, node.attrs[body_key])
        if bodies and len(bodies) == 1:
            _write_back_edges(layer, node.attrs[bodies[0][1]])
        if node.inputs:
            inputs = etree.SubElement(layer, "input")
            for port, source in enumerate(node.inputs):
                _add_port(inputs, port, source.shape, source.element_type)
                edges.append((ids[id(source.node)], len(source.node.inputs) + source.index,
                              ids[id(node)], port))
        if node.outputs:
            outputs = etree.SubElement(layer, "output")
            for index, info in enumerate(node.outputs):
                _add_port(outputs, len(node.inputs) + index, info.shape, info.element_type, info.names)
        for _, body_key in bodies:
            _write_graph(etree.SubElement(layer, body_key), node.attrs[body_key].graph, layout)
    edge_list = etree.SubElement(parent, "edges")
    for from_layer, from_port, to_layer, to_port in sorted(edges, key=lambda e: (e[2], e[3])):
        etree.SubElement(edge_list, "edge", {"from-layer": str(from_layer), "from-port": str(from_port),
                                             "to-layer": str(to_layer), "to-port": str(to_port)})
    return ids


def _body_layer_ids(body: Any) -> dict[int, int]:
    """The layer ids the body's nodes get when written (the same order as `_write_graph`)."""
    return {id(node): i for i, node in enumerate(body.graph.nodes())}


def _write_port_map(layer: etree._Element, tag: str, node: Node, body: Any) -> None:
    """<port_map> (<then_port_map>, <else_port_map>): which op port feeds or reads which body
    Parameter or Result, and how sliced inputs are cut and outputs concatenated."""
    ids = _body_layer_ids(body)
    port_map = etree.SubElement(layer, tag)
    for kind, ports, key, offset in (("input", body.inputs, "parameter", 0),
                                     ("output", body.outputs, "result", len(node.inputs))):
        for port in ports:
            attrs = {} if port.slicing is None else {
                k: str(v) for k, v in port.slicing.attributes().items()}
            attrs["external_port_id"] = str(-1 if port.external is None else port.external + offset)
            inner = getattr(port, key)
            if id(inner) not in ids:
                raise InternalError(f"its body's {kind} port {port.external} names a "
                                    f"{inner.op} that is not in the body", node=NodeRef(node.op, node.name))
            attrs["internal_layer_id"] = str(ids[id(inner)])
            if port.purpose:
                attrs["purpose"] = port.purpose
            etree.SubElement(port_map, kind, attrs)


def _write_back_edges(layer: etree._Element, body: Any) -> None:
    ids = _body_layer_ids(body)
    back_edges = etree.SubElement(layer, "back_edges")
    for result, parameter in body.back_edges:
        etree.SubElement(back_edges, "edge", {"from-layer": str(ids[id(result)]),
                                              "to-layer": str(ids[id(parameter)])})


def _add_rt_info(parent: etree._Element, info: dict[str, Any]) -> None:
    for key in sorted(info):
        value = info[key]
        if isinstance(value, dict):
            _add_rt_info(etree.SubElement(parent, key), value)
        else:
            etree.SubElement(parent, key, value=format_attribute(value))


def write_ir(graph: Graph, xml_path: str | os.PathLike, rt_info: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write `xml_path` and the .bin beside it; each appears whole or not at all."""
    xml_path = Path(xml_path)
    bin_path = xml_path.with_suffix(".bin")
    net, layout = build_xml(graph, rt_info)
    xml_bytes = etree.tostring(net, pretty_print=True, xml_declaration=True, encoding="utf-8")
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    bin_tmp = bin_path.with_name(f".{bin_path.name}.{os.getpid()}.tmp")
    xml_tmp = xml_path.with_name(f".{xml_path.name}.{os.getpid()}.tmp")
    try:
        with open(bin_tmp, "wb") as f:
            for blob in layout.blobs:
                f.write(memoryview(blob.reshape(-1)).cast("B"))
        xml_tmp.write_bytes(xml_bytes)
        os.replace(bin_tmp, bin_path)
        os.replace(xml_tmp, xml_path)
    finally:
        bin_tmp.unlink(missing_ok=True)
        xml_tmp.unlink(missing_ok=True)
    return xml_path, bin_path
