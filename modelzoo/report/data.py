"""What the report shows about each model: its rows, its manifest entry, its IR and its checks.

Everything is read from what builds left beside the manifest (the state file, the outputs,
verify.json, the cache's records), never recomputed: a report is quick and needs no runtime.
The IR's .xml is read with lxml for its inputs, outputs and operation counts.
"""
from __future__ import annotations

import json
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..manifest import ModelEntry
from ..summary import Row, current_rows
from ..tasks import ZooTasks

SCHEMA = "modelzoo-report/1"
PASSED = {"verified": True, "converted": True, "failed conversion": False,
          "failed verification": False, "could not verify": False}


@dataclass
class Port:
    name: str
    element_type: str
    shape: list


@dataclass
class IrFacts:
    """What the IR's .xml says: its inputs, its outputs, how many layers of each type."""

    inputs: list[Port] = field(default_factory=list)
    outputs: list[Port] = field(default_factory=list)
    ops: dict[str, int] = field(default_factory=dict)


@dataclass
class PrecisionDetail:
    row: Row
    keys: dict[str, str]
    ir: IrFacts | None
    verify: dict | None
    xml: Path


@dataclass
class ModelDetail:
    entry: ModelEntry
    table: dict  # the manifest's table for this model, as written
    flags_normalized: dict
    precisions: list[PrecisionDetail]


def read_ir(xml: Path) -> IrFacts | None:
    """Inputs (Parameter), outputs (Result) with shapes and element types, and op counts."""
    from lxml import etree

    try:
        root = etree.parse(str(xml)).getroot()
    except (OSError, etree.XMLSyntaxError):
        return None
    facts = IrFacts()
    ops: Counter[str] = Counter()
    for layer in root.iter("layer"):
        kind = layer.get("type", "?")
        ops[kind] += 1
        if kind == "Parameter":
            data = layer.find("data")
            port = layer.find("output/port")
            names = port.get("names") if port is not None else None
            facts.inputs.append(Port(names or layer.get("name", ""),
                                     data.get("element_type", "?") if data is not None else "?",
                                     _dims(port)))
        elif kind == "Result":
            port = layer.find("input/port")
            facts.outputs.append(Port(layer.get("name", "").removesuffix("/sink_port_0"),
                                      (port.get("precision", "?") if port is not None else "?").lower(),
                                      _dims(port)))
    facts.ops = dict(sorted(ops.items(), key=lambda item: (-item[1], item[0])))
    return facts


def _dims(port) -> list:
    if port is None:
        return []
    return [int(d.text) if d.text and d.text.lstrip("-").isdigit() else d.text
            for d in port.findall("dim")]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def manifest_tables(manifest: Path) -> dict:
    """The manifest's tables by model name; an Open Model Zoo folder or model.yml has none
    (its entries carry what the report shows in `info`)."""
    if not manifest.is_file() or manifest.suffix.lower() != ".toml":
        return {}
    with open(manifest, "rb") as handle:
        return tomllib.load(handle)


def keys_of(zoo: ZooTasks, entry: ModelEntry, precision: str) -> dict[str, str]:
    """The content keys of the model's cache entries (empty for a skipped model)."""
    if entry.skip:
        return {}
    keys = {"prepare": zoo.prepare_key(entry), "ir": zoo.ir_key(entry, precision)}
    if entry.verify:
        keys["verify"] = zoo.verify_key(entry, precision)
    return keys


def model_details(zoo: ZooTasks, rows: list[Row]) -> list[ModelDetail]:
    tables = manifest_tables(zoo.manifest.path)
    by_row = {(row.model, row.precision): row for row in rows}
    details = []
    for entry in zoo.manifest.models:
        precisions = []
        for precision in entry.precisions:
            xml = Path(zoo.ir_files(entry, precision)[0])
            verify = _read_json(xml.parent / "verify.json") if not entry.skip else None
            precisions.append(PrecisionDetail(by_row[(entry.name, precision)],
                                              keys_of(zoo, entry, precision),
                                              None if entry.skip else read_ir(xml), verify, xml))
        details.append(ModelDetail(entry, tables.get(entry.name) or dict(entry.info),
                                   json.loads(entry.flags_key()), precisions))
    return details


def load(manifest: str | Path,
         workdir: str | Path | None = None) -> tuple[ZooTasks, list[Row], list[ModelDetail]]:
    zoo = ZooTasks(manifest, workdir)
    rows = current_rows(zoo)
    return zoo, rows, model_details(zoo, rows)


def zoo_json(zoo: ZooTasks, rows: list[Row], generated: str) -> dict:
    """The table, machine-readable (its schema is in the README: `report/zoo.json`)."""
    counts = Counter(row.status for row in rows)
    info = {entry.name: dict(entry.info) for entry in zoo.manifest.models if entry.info}
    return {"schema": SCHEMA, "manifest": str(zoo.manifest.path), "generated": generated,
            "counts": dict(sorted(counts.items())), "total": len(rows),
            "failed": sum(row.failed for row in rows),
            "results": [{**asdict(row), "passed": PASSED.get(row.status),
                         "page": f"models/{row.model}.html",
                         **({"info": info[row.model]} if row.model in info else {})}
                        for row in rows]}
