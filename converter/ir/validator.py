"""Structural checks of an IR v11 file pair, without OpenVINO.

OpenVINO's `read_model` silently re-infers shapes and reports broken files with cryptic
messages, so this module checks what the reader takes on trust: ids, ports, edges, constants
against the .bin, and the dims written on ports, and the same inside the bodies of control-flow
layers (with their port maps and back edges). Every problem found is listed, each naming the
layer it is about, so one run shows everything that is wrong with a file.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ..errors import UserInputError

# Bits per element of every element type a Const may hold.
ELEMENT_BITS = {
    "f64": 64, "f32": 32, "f16": 16, "bf16": 16, "f8e4m3": 8, "f8e5m2": 8,
    "i64": 64, "i32": 32, "i16": 16, "i8": 8, "i4": 4,
    "u64": 64, "u32": 32, "u16": 16, "u8": 8, "u4": 4, "u1": 1, "boolean": 8,
    "f8e8m0": 8, "f4e2m1": 4,
}


class IRValidationError(UserInputError):
    """An IR file pair is not a well-formed IR v11; lists every problem found."""

    def __init__(self, xml_path: str | os.PathLike, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{xml_path} is not a valid IR v11 ({len(problems)} problem(s)):\n{lines}")


@dataclass
class _Port:
    id: int
    is_input: bool
    dims: tuple[str, ...]
    precision: str | None


@dataclass
class _Layer:
    id: str
    name: str
    type: str
    element: etree._Element
    ports: dict[int, _Port] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"layer {self.id} {self.name!r} ({self.type})"


def validate_ir(xml_path: str | os.PathLike, bin_path: str | os.PathLike | None = None) -> list[str]:
    """Every structural problem of the IR at `xml_path` (its .bin beside it unless given)."""
    xml_path = Path(xml_path)
    bin_path = Path(bin_path) if bin_path is not None else xml_path.with_suffix(".bin")
    try:
        root = etree.parse(str(xml_path)).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        return [f"cannot parse {xml_path} as XML: {exc}"]
    if root.tag != "net":
        return [f"root element is <{root.tag}>, expected <net>"]
    problems: list[str] = []
    if root.get("version") != "11":
        problems.append(f'<net version="{root.get("version")}">: only version 11 is supported')
    _check_layers_and_edges(root, bin_path, problems, body=False)
    return problems


BODY_TAGS = {"body": "port_map", "then_body": "then_port_map", "else_body": "else_port_map"}


def _check_layers_and_edges(root: etree._Element, bin_path: Path, problems: list[str],
                            body: bool) -> dict[str, _Layer]:
    """The checks of one graph: the <net>, or a body of a control-flow layer (a body needs
    no Parameter: an If branch may compute from constants alone)."""
    layers = _read_layers(root, problems)
    edges = _check_edges(root, layers, problems)
    _check_graph(layers, edges, problems, body)
    _check_constants(layers, bin_path, problems)
    _check_parameters(layers, problems)
    for layer in layers.values():
        _check_bodies(layer, bin_path, problems)
    return layers


def _check_bodies(layer: _Layer, bin_path: Path, problems: list[str]) -> None:
    """Each nested body of `layer` (Loop, TensorIterator, If) as a graph of its own, its port
    map against the layer's ports and the body's Parameters and Results, its back edges from a
    Result to a Parameter."""
    for tag, map_tag in BODY_TAGS.items():
        element = layer.element.find(tag)
        if element is None:
            continue
        inner: list[str] = []
        body_layers = _check_layers_and_edges(element, bin_path, inner, body=True)
        port_map = layer.element.find(map_tag)
        if port_map is None:
            inner.append(f"has no <{map_tag}>")
        else:
            _check_port_map(layer, port_map, body_layers, inner)
        for edge in layer.element.iterfind("back_edges/edge"):
            ends = (body_layers.get(edge.get("from-layer", "")), body_layers.get(edge.get("to-layer", "")))
            if [e.type if e else None for e in ends] != ["Result", "Parameter"]:
                inner.append(f"back edge {edge.get('from-layer')} -> {edge.get('to-layer')} does "
                             f"not lead from a body Result to a body Parameter")
        problems.extend(f"{layer}, <{tag}>: {p}" for p in inner)


def _check_port_map(layer: _Layer, port_map: etree._Element, body_layers: dict[str, _Layer],
                    problems: list[str]) -> None:
    for kind, wanted in (("input", "Parameter"), ("output", "Result")):
        for entry in port_map.iterfind(kind):
            text = f"<{kind} external_port_id={entry.get('external_port_id')} " \
                   f"internal_layer_id={entry.get('internal_layer_id')}>"
            inner = body_layers.get(entry.get("internal_layer_id", ""))
            if inner is None or inner.type != wanted:
                problems.append(f"{text}: the internal layer is not a body {wanted}")
            external = entry.get("external_port_id", "")
            port = layer.ports.get(int(external)) if external.lstrip("-").isdigit() else None
            if external != "-1" and (port is None or port.is_input != (kind == "input")):
                problems.append(f"{text}: the layer has no {kind} port {external}")
            if external == "-1" and not entry.get("purpose"):
                problems.append(f"{text}: external port -1 without a purpose")


def check_ir(xml_path: str | os.PathLike, bin_path: str | os.PathLike | None = None) -> None:
    """Raise `IRValidationError` listing every problem when the IR is not valid."""
    problems = validate_ir(xml_path, bin_path)
    if problems:
        raise IRValidationError(xml_path, problems)


# -- layers and ports --------------------------------------------------------------------------
def _read_layers(root: etree._Element, problems: list[str]) -> dict[str, _Layer]:
    layers: dict[str, _Layer] = {}
    for element in root.iterfind("layers/layer"):
        layer = _Layer(element.get("id", ""), element.get("name", ""), element.get("type", ""), element)
        if not layer.id:
            problems.append(f"{layer}: has no id")
            continue
        if layer.id in layers:
            problems.append(f"{layer}: id {layer.id} is already used by {layers[layer.id]}")
            continue
        for attribute in ("type", "version"):
            if not element.get(attribute):
                problems.append(f"{layer}: has no {attribute} attribute")
        _read_ports(layer, problems)
        layers[layer.id] = layer
    return layers


def _read_ports(layer: _Layer, problems: list[str]) -> None:
    sections = [child.tag for child in layer.element if child.tag in ("input", "output")]
    if sections != sorted(sections):  # "input" sorts before "output"
        problems.append(f"{layer}: <output> comes before <input>")
    for is_input in (True, False):
        for port in layer.element.iterfind(("input" if is_input else "output") + "/port"):
            try:
                port_id = int(port.get("id", ""))
            except ValueError:
                problems.append(f"{layer}: port id {port.get('id')!r} is not an integer")
                continue
            if port_id in layer.ports:
                problems.append(f"{layer}: port id {port_id} is used twice")
                continue
            dims = tuple((d.text or "").strip() for d in port.iterfind("dim"))
            layer.ports[port_id] = _Port(port_id, is_input, dims, port.get("precision"))
    inputs = [p.id for p in layer.ports.values() if p.is_input]
    outputs = [p.id for p in layer.ports.values() if not p.is_input]
    if inputs and outputs and max(inputs) > min(outputs):
        problems.append(f"{layer}: input port ids {sorted(inputs)} must all come before "
                        f"output port ids {sorted(outputs)}")


# -- edges -------------------------------------------------------------------------------------
Edge = tuple[_Layer, _Port, _Layer, _Port]


def _check_edges(root: etree._Element, layers: dict[str, _Layer], problems: list[str]) -> list[Edge]:
    edges: list[Edge] = []
    incoming: dict[tuple[str, int], int] = {}
    for element in root.iterfind("edges/edge"):
        edge = _resolve_edge(element, layers, problems)
        if edge is None:
            continue
        source, out_port, target, in_port = edge
        incoming[(target.id, in_port.id)] = incoming.get((target.id, in_port.id), 0) + 1
        _check_edge_ends(edge, problems)
        edges.append(edge)
    for layer in layers.values():
        for port in layer.ports.values():
            count = incoming.get((layer.id, port.id), 0)
            if port.is_input and count != 1:
                problems.append(f"{layer}: input port {port.id} has {count} incoming edges, "
                                f"expected exactly 1")
    return edges


def _resolve_edge(element: etree._Element, layers: dict[str, _Layer],
                  problems: list[str]) -> Edge | None:
    keys = ("from-layer", "from-port", "to-layer", "to-port")
    text = " ".join(f"{k}={element.get(k)}" for k in keys)
    if any(element.get(k) is None for k in keys):
        problems.append(f"edge {text}: misses an attribute")
        return None
    ends = []
    for layer_key, port_key, want_input in (("from-layer", "from-port", False),
                                            ("to-layer", "to-port", True)):
        layer = layers.get(element.get(layer_key))
        if layer is None:
            problems.append(f"edge {text}: {layer_key} {element.get(layer_key)} does not exist")
            return None
        port_text = element.get(port_key)
        port = layer.ports.get(int(port_text)) if port_text.isdigit() else None
        if port is None:
            problems.append(f"edge {text}: {layer} has no port {element.get(port_key)}")
            return None
        if port.is_input != want_input:
            kind = "an input" if want_input else "an output"
            problems.append(f"edge {text}: port {port.id} of {layer} is not {kind} port")
            return None
        ends += [layer, port]
    return ends[0], ends[1], ends[2], ends[3]


def _check_edge_ends(edge: Edge, problems: list[str]) -> None:
    source, out_port, target, in_port = edge
    where = f"edge from {source} port {out_port.id} to {target} port {in_port.id}"
    if out_port.dims != in_port.dims:
        problems.append(f"{where}: dims disagree, [{','.join(out_port.dims)}] at the source, "
                        f"[{','.join(in_port.dims)}] at the target")
    if out_port.precision != in_port.precision:
        problems.append(f"{where}: precision disagrees, {out_port.precision} at the source, "
                        f"{in_port.precision} at the target")


def _check_graph(layers: dict[str, _Layer], edges: list[Edge], problems: list[str],
                 body: bool = False) -> None:
    types = [layer.type for layer in layers.values()]
    for required in ("Result",) if body else ("Parameter", "Result"):
        if required not in types:
            problems.append(f"the model has no {required} layer")
    successors: dict[str, set[str]] = {layer_id: set() for layer_id in layers}
    pending = {layer_id: 0 for layer_id in layers}
    for source, _, target, _ in edges:
        if target.id not in successors[source.id]:
            successors[source.id].add(target.id)
            pending[target.id] += 1
    ready = [layer_id for layer_id, n in pending.items() if n == 0]
    while ready:
        for successor in successors[ready.pop()]:
            pending[successor] -= 1
            if pending[successor] == 0:
                ready.append(successor)
    cyclic = [str(layers[layer_id]) for layer_id, n in pending.items() if n > 0]
    if cyclic:
        problems.append(f"the graph has a cycle through: {', '.join(cyclic)}")


# -- constants and parameters ------------------------------------------------------------------
def _data(layer: _Layer) -> dict[str, str]:
    data = layer.element.find("data")
    return dict(data.attrib) if data is not None else {}


def _output_dims(layer: _Layer) -> tuple[str, ...] | None:
    outputs = [p for p in layer.ports.values() if not p.is_input]
    return outputs[0].dims if len(outputs) == 1 else None


def _parse_shape(text: str) -> list[int] | None:
    text = text.strip()
    if not text:
        return []
    try:
        return [int(d) for d in text.split(",")]
    except ValueError:
        return None


def _check_constants(layers: dict[str, _Layer], bin_path: Path, problems: list[str]) -> None:
    constants = [layer for layer in layers.values() if layer.type == "Const"]
    if not constants:
        return
    bin_size = bin_path.stat().st_size if bin_path.is_file() else None
    if bin_size is None:
        problems.append(f"the weights file {bin_path} does not exist, but {len(constants)} "
                        f"Const layer(s) need it")
    for layer in constants:
        _check_constant(layer, bin_path, bin_size, problems)


def _check_constant(layer: _Layer, bin_path: Path, bin_size: int | None, problems: list[str]) -> None:
    data = _data(layer)
    missing = [k for k in ("element_type", "shape", "offset", "size") if k not in data]
    if missing:
        problems.append(f"{layer}: <data> misses {', '.join(missing)}")
        return
    element_type = data["element_type"]
    shape = _parse_shape(data["shape"])
    if element_type not in ELEMENT_BITS:
        problems.append(f"{layer}: unknown element_type {element_type!r}")
    if shape is None or any(d < 0 for d in shape):
        problems.append(f"{layer}: shape {data['shape']!r} is not a list of non-negative integers")
        return
    dims = _output_dims(layer)
    if dims is None:
        problems.append(f"{layer}: a Const must have exactly one output port")
    elif list(dims) != [str(d) for d in shape]:
        problems.append(f"{layer}: shape [{data['shape']}] does not match its output port dims "
                        f"[{','.join(dims)}]")
    try:
        offset, size = int(data["offset"]), int(data["size"])
    except ValueError:
        problems.append(f"{layer}: offset {data['offset']!r} or size {data['size']!r} is not an integer")
        return
    if element_type in ELEMENT_BITS:
        expected = (math.prod(shape) * ELEMENT_BITS[element_type] + 7) // 8
        if size != expected:
            problems.append(f"{layer}: size is {size} bytes, but shape [{data['shape']}] of "
                            f"{element_type} needs {expected}")
    if offset < 0 or size < 0:
        problems.append(f"{layer}: negative offset {offset} or size {size}")
    elif bin_size is not None and offset + size > bin_size:
        problems.append(f"{layer}: bytes {offset}..{offset + size} lie beyond the end of "
                        f"{bin_path.name} ({bin_size} bytes): the .bin is too short or not this IR's")


def _parameter_dims(text: str) -> list[str] | None:
    """A Parameter's `shape` as port dims ("?" is "-1"); None for a dynamic rank ("...")."""
    text = text.strip()
    if text == "...":
        return None
    if not text:
        return []
    return ["-1" if d.strip() == "?" else d.strip() for d in text.split(",")]


def _check_parameters(layers: dict[str, _Layer], problems: list[str]) -> None:
    for layer in layers.values():
        if layer.type != "Parameter":
            continue
        data = _data(layer)
        if "shape" not in data or "element_type" not in data:
            problems.append(f"{layer}: <data> needs shape and element_type")
            continue
        dims = _output_dims(layer)
        if dims is None:
            problems.append(f"{layer}: a Parameter must have exactly one output port")
            continue
        expected = _parameter_dims(data["shape"])
        if expected is not None and list(dims) != expected:
            problems.append(f"{layer}: shape [{data['shape']}] does not match its output port "
                            f"dims [{','.join(dims)}]")
