"""Numeric verification of a converted IR against the model it came from.

`verify_ir` checks the IR's structure, checks that the shapes OpenVINO infers agree with the
dims our writer put on every port, then runs the source model (onnxruntime or TensorFlow) and
the IR (OpenVINO, f32) on the same seeded inputs and compares every output. It never raises
for a model that is merely wrong: the report says what failed, and `assert_passed` turns a
failed report into a `VerificationError` where the pipeline wants one.

numpy, OpenVINO and TensorFlow are imported inside the functions, so importing this module
costs nothing.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from converter.errors import UserInputError

# Errors are divided by the reference's range (max - min) so that one tolerance fits outputs
# of any scale; a constant reference falls back to its magnitude, then to 1.
_TINY_RANGE = 1e-12


class VerificationError(UserInputError):
    """A converted IR does not compute what its source model computes."""


def verify_ir(xml_path: str | Path, source: str | Path, framework: str, *, precision: str,
              tolerance: float, inputs_meta: dict[str, dict] | None = None, seed: int = 0,
              preprocessing: dict[str, dict] | None = None) -> dict[str, Any]:
    """Compare the IR at `xml_path` with `source` (.onnx, or a frozen TF .pb) on seeded inputs.

    `inputs_meta` may give, per IR input name, a "shape" (for dynamic dims), "low"/"high"
    bounds of the values generated. `preprocessing` gives, per IR input name, the mean/scale/
    reverse_input_channels baked into the IR: {"mean": (...), "scale": (...), "reverse": bool,
    "channel_axis": int}; the source then receives ((reverse(x) - mean) / scale).
    """
    from converter.ir.validator import validate_ir

    started = time.monotonic()
    report: dict[str, Any] = {
        "model": str(xml_path), "source": str(source), "framework": framework,
        "precision": precision, "tolerance": tolerance, "passed": False, "outputs": [],
        "max_abs_error": None, "max_rel_error": None, "structural_problems": [],
        "shape_mismatches": [], "error": None, "seconds": 0.0,
    }
    report["structural_problems"] = validate_ir(xml_path)
    if not report["structural_problems"]:
        try:
            _compare(report, Path(xml_path), Path(source), framework, inputs_meta or {}, seed,
                     preprocessing or {})
        except Exception as exc:  # noqa: BLE001 - a runtime failing on the model is a result
            report["error"] = f"{type(exc).__name__}: {exc}"
    report["passed"] = bool(
        not report["structural_problems"] and not report["shape_mismatches"]
        and report["error"] is None and report["outputs"]
        and all(o["passed"] for o in report["outputs"]))
    report["seconds"] = round(time.monotonic() - started, 3)
    return report


def assert_passed(report: dict[str, Any], model_name: str) -> None:
    """Raise `VerificationError` naming the model, the output and the error when it failed."""
    if report["passed"]:
        return
    lines = [f"{model_name}: IR {report['model']} failed verification against {report['source']} "
             f"({report['precision']}, tolerance {report['tolerance']:g} of each output's range)"]
    lines += [f"  structure: {p}" for p in report["structural_problems"]]
    lines += [f"  shape: {m}" for m in report["shape_mismatches"]]
    if report.get("error"):
        lines.append(f"  error: {report['error']}")
    for output in report["outputs"]:
        if not output["passed"]:
            lines.append(f"  output {output['name']!r}: {output.get('problem') or ''}"
                         f"max abs error {output['max_abs_error']}, relative to range "
                         f"{output['max_rel_error']}")
    if not report["outputs"] and report.get("error") is None and not report["structural_problems"]:
        lines.append("  no outputs were compared")
    raise VerificationError("\n".join(lines))


# -- the comparison ----------------------------------------------------------------------------
def _compare(report: dict, xml_path: Path, source: Path, framework: str, inputs_meta: dict,
             seed: int, preprocessing: dict) -> None:
    from .runtime import import_openvino

    ov = import_openvino()

    from .runtime import run_openvino

    model = ov.Core().read_model(str(xml_path))
    report["shape_mismatches"] = shape_mismatches(model, xml_path)
    source_model = _SourceModel(source, framework)
    ir_feeds, source_feeds = {}, {}
    for index, port in enumerate(model.inputs):
        names = port.get_names()
        meta = next((inputs_meta[n] for n in sorted(names) if n in inputs_meta), {})
        value = generate_input(port, meta, seed + index)
        ir_feeds[port.get_any_name()] = value
        pre = next((preprocessing[n] for n in sorted(names) if n in preprocessing), None)
        source_name = source_model.input_name(names)
        fed = apply_preprocessing(value, pre, framework) if pre else value
        source_feeds[source_name] = fed.astype(source_model.input_dtype(source_name), copy=False)
    produced = run_openvino(xml_path, ir_feeds)
    ir_outputs = [sorted(port.get_names()) for port in model.outputs]
    wanted = source_model.output_names(ir_outputs)
    reference = source_model.run(source_feeds, list(wanted.values()))
    for ir_names in ir_outputs:
        source_name = wanted.get(tuple(ir_names))
        report["outputs"].append(_compare_output(ir_names, source_name, produced, reference,
                                                 report["tolerance"]))
    for name in source_model.missing_outputs(wanted.values()):
        report["outputs"].append({"name": name, "ir_names": [], "shape": None, "passed": False,
                                  "max_abs_error": None, "max_rel_error": None,
                                  "problem": "the IR has no output of this name; "})
    compared = [o for o in report["outputs"] if o["max_abs_error"] is not None]
    if compared:
        report["max_abs_error"] = max(o["max_abs_error"] for o in compared)
        report["max_rel_error"] = max(o["max_rel_error"] for o in compared)


def _compare_output(ir_names: list[str], source_name: str | None, produced: dict,
                    reference: dict, tolerance: float) -> dict[str, Any]:
    import numpy as np

    entry: dict[str, Any] = {"name": source_name or ",".join(ir_names), "ir_names": ir_names,
                             "shape": None, "max_abs_error": None, "max_rel_error": None,
                             "passed": False, "problem": None}
    if source_name is None:
        entry["problem"] = "no output of the source model has any of its names; "
        return entry
    actual = np.asarray(produced[ir_names[0]], dtype=np.float64)
    expected = np.asarray(reference[source_name], dtype=np.float64)
    entry["shape"] = list(expected.shape)
    if actual.shape != expected.shape:
        entry["problem"] = f"IR gives shape {list(actual.shape)}, source {list(expected.shape)}; "
        return entry
    abs_error, rel_error = output_errors(actual, expected)
    entry["max_abs_error"], entry["max_rel_error"] = abs_error, rel_error
    entry["passed"] = bool(rel_error <= tolerance)  # False for NaN too
    return entry


def output_errors(actual, expected) -> tuple[float, float]:
    """(max absolute error, max error relative to the reference's range); NaN anywhere is inf."""
    import numpy as np

    if expected.size == 0:
        return 0.0, 0.0
    diff = np.abs(actual - expected)
    if not np.all(np.isfinite(diff)):
        return float("inf"), float("inf")
    spread = float(np.ptp(expected))
    if spread <= _TINY_RANGE:
        spread = max(float(np.max(np.abs(expected))), 1.0)
    max_abs = float(diff.max())
    return max_abs, max_abs / spread


def shape_mismatches(model, xml_path: Path) -> list[str]:
    """Ports whose dims in the XML differ from the shape OpenVINO infers, one line each.

    Ports are paired by position among the layer's inputs, then its outputs: OpenVINO may give
    an op more inputs than the XML wrote (e.g. Pad's optional pad value), so ids would not match.
    """
    from lxml import etree

    written: dict[str, tuple[list, list]] = {}
    for layer in etree.parse(str(xml_path)).getroot().iterfind("layers/layer"):
        def dims_of(kind: str) -> list[tuple[str, list[str]]]:
            return [(p.get("id"), [(d.text or "").strip() for d in p.iterfind("dim")])
                    for p in layer.iterfind(f"{kind}/port")]
        written[layer.get("name")] = (dims_of("input"), dims_of("output"))
    problems = []
    for op in model.get_ordered_ops():
        ports = written.get(op.get_friendly_name())
        if ports is None:
            continue
        inferred = ([op.get_input_partial_shape(i) for i in range(op.get_input_size())],
                    [op.get_output_partial_shape(i) for i in range(op.get_output_size())])
        for xml_ports, shapes in zip(ports, inferred):
            for (port_id, xml_dims), shape in zip(xml_ports, shapes):
                if shape.rank.is_dynamic:
                    continue
                dims = ["-1" if d.is_dynamic else str(d.get_length()) for d in shape]
                if xml_dims != dims:
                    problems.append(f"layer {op.get_friendly_name()!r} ({op.get_type_name()}) "
                                    f"port {port_id}: XML says [{','.join(xml_dims)}], OpenVINO "
                                    f"infers [{','.join(dims)}]")
    return problems


def generate_input(port, meta: dict, seed: int):
    """Seeded values for one IR input: floats in [-1, 1], uint8 in [0, 255], small integers."""
    import numpy as np

    element = port.get_element_type()
    dtype = np.dtype(element.to_dtype())
    shape = meta.get("shape") or [d.get_length() if d.is_static else 1
                                  for d in port.get_partial_shape()]
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        low, high = meta.get("low", -1.0), meta.get("high", 1.0)
        return rng.uniform(low, high, size=shape).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    low, high = (0, 255) if dtype == np.uint8 else (0, 10)
    return rng.integers(meta.get("low", low), meta.get("high", high), size=shape,
                        endpoint=True).astype(dtype)


def apply_preprocessing(value, pre: dict, framework: str):
    """What the source must receive for the IR's input `value`: (reverse(x) - mean) / scale."""
    import numpy as np

    axis = pre.get("channel_axis", 1 if framework == "onnx" else -1) % value.ndim
    x = value.astype(np.float32)
    if pre.get("reverse"):
        x = np.flip(x, axis=axis)
    shape = [1] * value.ndim
    shape[axis] = -1
    if pre.get("mean") is not None:
        x = x - np.asarray(pre["mean"], np.float32).reshape(shape)
    if pre.get("scale") is not None:
        x = x / np.asarray(pre["scale"], np.float32).reshape(shape)
    return np.ascontiguousarray(x)


class _SourceModel:
    """The source model's input/output names and dtypes, and a way to run it."""

    def __init__(self, path: Path, framework: str):
        self.path, self.framework = path, framework
        if framework == "onnx":
            self._load_onnx()
        elif framework in ("tf", "tensorflow"):
            self._load_tf()
        else:
            raise ValueError(f"cannot verify against a {framework!r} model: only onnx and a "
                             f"frozen TensorFlow graph (tf) are supported")

    def _load_onnx(self) -> None:
        import onnx
        from onnx import helper

        graph = onnx.load(str(self.path), load_external_data=False).graph
        initializers = {t.name for t in graph.initializer}
        self.inputs = {i.name: helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
                       for i in graph.input if i.name not in initializers}
        self.outputs = [o.name for o in graph.output]

    def _load_tf(self) -> None:
        from converter.frontends.tf.freeze import import_tensorflow

        tf = import_tensorflow()

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(self.path.read_bytes())
        self.nodes = {n.name for n in graph_def.node}
        self.inputs = {f"{n.name}:0": tf.as_dtype(n.attr["dtype"].type).as_numpy_dtype
                       for n in graph_def.node if n.op == "Placeholder"}

    def input_name(self, ir_names: set[str]) -> str:
        for name in sorted(ir_names):
            candidate = name if self.framework == "onnx" or ":" in name else f"{name}:0"
            if candidate in self.inputs:
                return candidate
        raise ValueError(f"IR input {sorted(ir_names)} matches no input of {self.path.name} "
                         f"({sorted(self.inputs)})")

    def input_dtype(self, name: str):
        return self.inputs[name]

    def output_names(self, ir_outputs: list[list[str]]) -> dict[tuple[str, ...], str]:
        """IR output names -> the source's tensor name for each IR output found in the source."""
        found = {}
        for names in ir_outputs:
            for name in names:
                if self.framework == "onnx" and name in self.outputs:
                    found[tuple(names)] = name
                    break
                if self.framework != "onnx" and name.rsplit(":", 1)[0] in self.nodes:
                    found[tuple(names)] = name if ":" in name else f"{name}:0"
                    break
        return found

    def missing_outputs(self, matched) -> list[str]:
        """Outputs of an ONNX source that no IR output carries (a frozen graph lists none)."""
        return sorted(set(getattr(self, "outputs", [])) - set(matched))

    def run(self, feeds: dict, outputs: list[str]) -> dict:
        from .runtime import run_onnxruntime, run_tf_graph

        if self.framework == "onnx":
            return run_onnxruntime(self.path, feeds)
        return run_tf_graph(self.path, feeds, outputs)
