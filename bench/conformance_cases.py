"""The ONNX conformance cases the onnx wheel ships, as plain picklable records.

Two sources: the node cases `onnx.backend.test.case.node.collect_testcases` builds in memory (one
operator per model, with the rtol/atol each case carries), and the model folders under
`onnx/backend/test/data/<suite>/` (a `model.onnx` beside `test_data_set_*/{input,output}_N.pb`,
tolerances from an optional `data.json`, else the backend runner's 1e-3/1e-7).
"""
from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NODE_SUITE = "node"
DATA_SUITES = ("simple", "pytorch-converted", "pytorch-operator")
SUITES = (NODE_SUITE, *DATA_SUITES)
DEFAULT_RTOL, DEFAULT_ATOL = 1e-3, 1e-7


@dataclass
class Case:
    """One conformance case: a model (bytes) and its data sets, each inputs by name and the
    expected outputs in graph order as (name, value). Values are numpy arrays, or lists
    (sequences) and None (an empty optional) as the onnx runner loads them."""

    suite: str
    name: str
    operator: str
    model_bytes: bytes
    data_sets: list[tuple[dict[str, Any], list[tuple[str, Any]]]] = field(default_factory=list)
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    load_error: str | None = None


def data_root() -> Path:
    import onnx.backend.test

    return Path(onnx.backend.test.__file__).parent / "data"


def collect(suites: tuple[str, ...] = SUITES, only: str | None = None) -> list[Case]:
    """The cases of `suites` in a stable order, those whose name matches the regex `only`."""
    wanted = re.compile(only) if only else None
    cases: list[Case] = []
    for suite in suites:
        found = node_cases(wanted) if suite == NODE_SUITE else folder_cases(suite, wanted)
        cases += sorted(found, key=lambda case: case.name)
    return cases


def node_cases(wanted: re.Pattern | None) -> list[Case]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generators overflow casts on purpose
        from onnx.backend.test.case.node import collect_testcases

        testcases = list(collect_testcases(None))
    single_ops = {case.name: case.model.graph.node[0].op_type for case in testcases
                  if len(case.model.graph.node) == 1}
    return [node_case(case, single_ops) for case in testcases
            if wanted is None or wanted.search(case.name)]


def node_case(testcase, single_ops: dict[str, str]) -> Case:
    graph = testcase.model.graph
    data_sets = [(dict(zip([i.name for i in graph.input], map(to_value, inputs))),
                  list(zip([o.name for o in graph.output], map(to_value, outputs))))
                 for inputs, outputs in testcase.data_sets]
    return Case(NODE_SUITE, testcase.name, node_operator(testcase, single_ops),
                testcase.model.SerializeToString(), data_sets, testcase.rtol, testcase.atol)


def node_operator(testcase, single_ops: dict[str, str]) -> str:
    """The operator a node case tests; a function-expanded case (`..._expanded[_verN]`, many
    nodes) belongs to the operator of the case it expands."""
    nodes = testcase.model.graph.node
    if len(nodes) == 1:
        return nodes[0].op_type
    base = re.sub(r"_expanded(_ver\d+)?$", "", testcase.name)
    return single_ops.get(base, nodes[0].op_type)


def to_value(item: Any) -> Any:
    """A TensorProto as a numpy array; arrays, lists and None as they are."""
    from onnx import TensorProto, numpy_helper

    if isinstance(item, TensorProto):
        return numpy_helper.to_array(item)
    if isinstance(item, list):
        return [to_value(element) for element in item]
    return item


def folder_cases(suite: str, wanted: re.Pattern | None) -> list[Case]:
    root = data_root() / suite
    return [folder_case(suite, folder) for folder in sorted(root.iterdir())
            if (folder / "model.onnx").is_file() and (wanted is None or wanted.search(folder.name))]


def folder_case(suite: str, folder: Path) -> Case:
    rtol, atol = folder_tolerances(folder)
    model_bytes = (folder / "model.onnx").read_bytes()
    case = Case(suite, folder.name, "(model)", model_bytes, rtol=rtol, atol=atol)
    try:
        case.data_sets = load_data_sets(folder, model_bytes)
    except Exception as error:  # a case whose data cannot be read fails at "load" on both sides
        case.load_error = f"{type(error).__name__}: {first_line(str(error))}"
    return case


def folder_tolerances(folder: Path) -> tuple[float, float]:
    spec = folder / "data.json"
    data = json.loads(spec.read_text()) if spec.is_file() else {}
    return data.get("rtol", DEFAULT_RTOL), data.get("atol", DEFAULT_ATOL)


def load_data_sets(folder: Path, model_bytes: bytes) -> list:
    import onnx

    graph = onnx.load_from_string(model_bytes).graph
    data_sets = []
    for data_dir in sorted(folder.glob("test_data_set_*")):
        inputs = {info.name: read_proto(path, info.type)
                  for info, path in zip(graph.input, numbered(data_dir, "input"))}
        outputs = [(info.name, read_proto(path, info.type))
                   for info, path in zip(graph.output, numbered(data_dir, "output"))]
        data_sets.append((inputs, outputs))
    return data_sets


def numbered(data_dir: Path, prefix: str) -> list[Path]:
    return [data_dir / f"{prefix}_{i}.pb" for i in range(len(list(data_dir.glob(f"{prefix}_*.pb"))))]


def read_proto(path: Path, type_proto) -> Any:
    """A `.pb` file read as the graph declares it: tensor, sequence or optional."""
    import onnx
    from onnx import numpy_helper

    content = path.read_bytes()
    if type_proto.HasField("sequence_type"):
        sequence = onnx.SequenceProto()
        sequence.ParseFromString(content)
        return numpy_helper.to_list(sequence)
    if type_proto.HasField("optional_type"):
        optional = onnx.OptionalProto()
        optional.ParseFromString(content)
        return numpy_helper.to_optional(optional)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(content)
    return numpy_helper.to_array(tensor)


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
