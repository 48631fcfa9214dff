"""One verification, step by step: structure, shapes, inputs, both runs, the comparison.

Every step that finds the IR wrong records it in the report and stops; a step that cannot run
(a runtime missing, the reference refusing its own model, memory) raises `VerifierUnavailable`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from . import budget, compare, detections, inputs, ir_side, preprocess
from .errors import VerifierUnavailable
from .source import SourceModel, TensorInfo


def plain(name: str) -> str:
    """A tensor name without TensorFlow's `:0` port suffix, so `x` and `x:0` match."""
    return name[:-2] if name.endswith(":0") else name


def same_tensor(names_a, names_b) -> bool:
    return bool({plain(n) for n in names_a} & {plain(n) for n in names_b})


class Verification:
    def __init__(self, xml_path: Path, source: SourceModel, precision: str,
                 tolerance: float | None, flags: Mapping[str, Any], input_spec: Any,
                 base_dir: Path | None, seed: int):
        self.xml_path, self.source, self.flags, self.seed = xml_path, source, flags, seed
        self.given_tolerance = tolerance
        try:
            self.input_spec = inputs.parse_spec(input_spec, base_dir)
        except ValueError as exc:
            raise VerifierUnavailable(f"verify_inputs: {exc}") from None
        self.report: dict[str, Any] = {
            "model": str(xml_path), "source": str(source.path), "framework": source.framework,
            "source_kind": source.kind, "precision": precision, "tolerance": None,
            "tolerance_from": None, "passed": False, "inputs": [], "outputs": [],
            "max_abs_error": None, "max_rel_error": None, "nothing_compared": None,
            "structural_problems": [], "shape_mismatches": [], "input_problems": [],
            "error": None, "reference": None, "openvino": None, "latency_ms": None}

    # -- the steps ------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from converter.ir.validator import validate_ir

        self.report["structural_problems"] = validate_ir(self.xml_path)
        if not self.report["structural_problems"]:
            self._compare()
        self._conclude()
        return self.report

    def _compare(self) -> None:
        model = self._read_ir()
        if model is None:
            return
        self.report["shape_mismatches"] = ir_side.shape_mismatches(model, self.xml_path)
        from .references import open_reference

        reference = open_reference(self.source)
        self.report["reference"] = {"runtime": reference.runtime, "version": reference.version,
                                    "detail": reference.detail}
        feeds = self._feeds(model, reference)
        if feeds is None:
            return
        ir_feeds, reference_feeds = feeds
        produced = self._run_ir(model, ir_feeds)
        if produced is None:
            return
        expected = self._run_reference(reference, reference_feeds)
        if self._compare_detections(model, reference, produced, expected):
            return
        tolerance, how = budget.tolerance_for(self.report["precision"], self.given_tolerance,
                                              reference, reference_feeds, expected)
        self.report["tolerance"], self.report["tolerance_from"] = tolerance, how
        self.report["outputs"] = self._outputs(model, reference, produced, expected, tolerance)
        self.report.update(compare.summarize(self.report["outputs"]))

    def _compare_detections(self, model, reference, produced: list, expected: dict) -> bool:
        """For an IR ending in DetectionOutput against a source with detection outputs: compare
        detections (see `detections`) instead of tensors; False when that is not the case."""
        sources = detections.source_detection_outputs(reference.outputs)
        found = next(((port, value) for port, value in zip(model.outputs, produced)
                      if detections.is_detection_output(ir_side.port_names(port), value.shape)), None)
        if sources is None or found is None:
            return False
        port, rows = found
        names = sorted(ir_side.port_names(port))
        entry = detections.compare_detections(
            ",".join(names), names, rows, {k: expected[v] for k, v in sources.items()},
            self.report["precision"])
        self.report["tolerance"] = entry["detections"]["score_tolerance"]
        self.report["tolerance_from"] = {
            "source": "detections", "how": "per detection: same class, IoU >= "
            f"{detections.MIN_IOU}, score within the tolerance"}
        self.report["outputs"] = [entry]
        self.report["not_compared"] = sorted(o.name for o in reference.outputs if detections.replaced(o))
        return True

    def _conclude(self) -> None:
        report = self.report
        report["passed"] = bool(
            not report["structural_problems"] and not report["shape_mismatches"]
            and not report["input_problems"] and report["error"] is None
            and not report["nothing_compared"] and report["outputs"]
            and all(o["passed"] for o in report["outputs"]))

    def _read_ir(self):
        ov = ir_side.openvino_module()
        self.report["openvino"] = ov.get_version()
        try:
            return ov.Core().read_model(str(self.xml_path))
        except RuntimeError as exc:
            self.report["error"] = f"OpenVINO cannot read the IR: {_first_line(exc)}"
            return None

    def _run_ir(self, model, feeds: dict[int, Any]) -> list[Any] | None:
        try:
            produced, self.report["latency_ms"] = ir_side.run(model, feeds)
            return produced
        except MemoryError:
            raise VerifierUnavailable("out of memory while OpenVINO ran the IR; run again with "
                                      "more memory or fewer parallel jobs") from None
        except (RuntimeError, TypeError, ValueError) as exc:
            self.report["error"] = f"OpenVINO cannot compile or run the IR: {_first_line(exc)}"
            return None

    @staticmethod
    def _run_reference(reference, feeds: dict[str, Any]) -> dict[str, Any]:
        try:
            return reference.run(feeds)
        except VerifierUnavailable:
            raise
        except MemoryError:
            raise VerifierUnavailable("out of memory while the source model ran; run again "
                                      "with more memory or fewer parallel jobs") from None
        except Exception as exc:  # noqa: BLE001 - any runtime failure means no reference
            raise VerifierUnavailable(f"{reference.runtime} failed to run the source model: "
                                      f"{type(exc).__name__}: {_first_line(exc)}") from None

    # -- inputs ---------------------------------------------------------------------------
    def _feeds(self, model, reference) -> tuple[dict[int, Any], dict[str, Any]] | None:
        """The raw value per IR input (by index) and what the source is fed (by name)."""
        ir_feeds, reference_feeds, matched = {}, {}, set()
        overrides = shape_overrides(self.flags, reference.inputs)
        for index, port in enumerate(model.inputs):
            names = ir_side.port_names(port)
            info = next((i for i in reference.inputs if same_tensor(names, i.names)), None)
            if info is None:
                self.report["input_problems"].append(
                    f"IR input {sorted(names)} is no input of the source model (its inputs: "
                    f"{sorted(i.name for i in reference.inputs)})")
                continue
            matched.add(info.name)
            raw, fed, described = self._input_value(port, names, info, overrides.get(info.name))
            ir_feeds[index], reference_feeds[info.name] = raw, fed
            self.report["inputs"].append(described)
        for info in reference.inputs:
            if info.name in matched:
                continue
            frozen = frozen_value(self.flags, info)
            if frozen is None:
                self.report["input_problems"].append(
                    f"source input {info.name!r} has no IR input and no frozen value")
            else:
                reference_feeds[info.name] = frozen
        return None if self.report["input_problems"] else (ir_feeds, reference_feeds)

    def _input_value(self, port, names, info: TensorInfo, override) -> tuple[Any, Any, dict]:
        import numpy as np

        setting = inputs.setting_for(self.input_spec, names | info.names)
        shape = _shape_of(port, info, setting, override)
        try:
            pre = preprocess.preprocessing_for(self.flags, names | info.names, shape,
                                               self.source.framework)
        except ValueError as exc:
            raise VerifierUnavailable(f"the preprocessing flags do not fit input {info.name!r}: "
                                      f"{exc}") from None
        request = inputs.InputRequest(info.name, frozenset(names | info.names),
                                      ir_side.port_dtype(port), shape, pre)
        raw, how = inputs.generate(request, setting, self.seed + len(self.report["inputs"]))
        fed = preprocess.apply(raw, pre) if pre.changes_values else raw
        described = {"name": info.name, "ir_names": sorted(names), "shape": list(shape),
                     "ir_element_type": request.dtype, "source_element_type": info.dtype,
                     **how, "preprocessing": pre.describe() if pre.changes_values else None}
        return raw, np.asarray(fed).astype(info.dtype, copy=False), described

    # -- outputs --------------------------------------------------------------------------
    def _outputs(self, model, reference, produced: list, expected: dict, tolerance: float) -> list:
        entries, matched = [], set()
        for port, actual in zip(model.outputs, produced):
            names = sorted(ir_side.port_names(port))
            info = next((o for o in reference.outputs if same_tensor(names, o.names)), None)
            if info is None:
                entries.append(compare.unmatched_output(
                    ",".join(names), names, "no output of the source model has any of its names; "))
                continue
            matched.add(info.name)
            entries.append(compare.compare_output(info.name, names, actual, expected[info.name],
                                                  tolerance))
        for info in reference.outputs:
            if info.name not in matched:
                entries.append(compare.unmatched_output(
                    info.name, [], "the IR has no output of this name; "))
        return entries


def _shape_of(port, info: TensorInfo, setting, override) -> tuple[int, ...]:
    """A file's array fixes the shape; else the IR's static dims; else `input_shape`."""
    ir_shape = ir_side.port_shape(port)
    if isinstance(setting, Path) and ir_shape is not None:
        array_shape = inputs.load_array(setting, info.names).shape
        return inputs.static_shape(info.name, ir_shape, tuple(array_shape))
    if ir_shape is None:
        if override is None:
            raise VerifierUnavailable(f"input {info.name!r} has a dynamic rank; give input_shape")
        return tuple(override)
    return inputs.static_shape(info.name, ir_shape, override)


def shape_overrides(flags: Mapping[str, Any], reference_inputs: list[TensorInfo]) -> dict[str, tuple]:
    """mo's `--input_shape` (with `--input`'s names, or in input order), and shapes written in
    `--input` itself (`name[1 3 224 224]`), by reference input name."""
    from . import cut_names

    shapes = _parse_shapes(flags.get("input_shape"))
    named = cut_names(flags.get("input"))
    found: dict[str, tuple] = {}
    for position, shape in enumerate(shapes):
        if named and position < len(named):
            info = next((i for i in reference_inputs if same_tensor([named[position]], i.names)), None)
        else:
            info = reference_inputs[position] if position < len(reference_inputs) else None
        if info is not None:
            found[info.name] = shape
    for item in _input_items(flags.get("input")):
        if "[" in item.split("->")[0]:
            name, dims = item.split("[", 1)
            info = next((i for i in reference_inputs if same_tensor([name.strip()], i.names)), None)
            if info is not None:
                found[info.name] = _dims(dims.split("]")[0])
    return found


def _input_items(raw: Any) -> list[str]:
    from . import _split_outside_brackets

    if not raw:
        return []
    return [str(i) for i in raw] if isinstance(raw, (list, tuple)) else _split_outside_brackets(str(raw))


def _parse_shapes(raw: Any) -> list[tuple[int, ...]]:
    import re

    if raw is None or raw == "":
        return []
    if isinstance(raw, (list, tuple)):
        if raw and all(isinstance(s, (list, tuple)) for s in raw):
            return [tuple(int(d) for d in s) for s in raw]
        return [tuple(int(d) for d in raw)]
    return [_dims(group) for group in re.findall(r"[\[(]([^\])]*)[\])]", str(raw))]


def _dims(text: str) -> tuple[int, ...]:
    import re

    return tuple(-1 if d in ("?", "-1") else int(d) for d in re.split(r"[\s,]+", text.strip()) if d)


def frozen_value(flags: Mapping[str, Any], info: TensorInfo):
    """The value mo's `--input name[shape]->[values]` freezes this input to, or None."""
    import numpy as np

    for item in _input_items(flags.get("input")):
        if "->" not in item:
            continue
        head, values = item.split("->", 1)
        name = head.split("[")[0].strip()
        if not same_tensor([name], info.names):
            continue
        numbers = [float(v) for v in values.strip().strip("[]").replace(",", " ").split()]
        array = np.asarray(numbers, dtype=info.dtype)
        if "[" in head:
            array = array.reshape(_dims(head.split("[", 1)[1].split("]")[0]))
        return array
    return _placeholder_value(flags, info)


def _placeholder_value(flags: Mapping[str, Any], info: TensorInfo):
    """The value `--freeze_placeholder_with_value name->value` freezes this input to (in the
    input's shape when it is static and the values fill it), or None."""
    import numpy as np

    from converter.options import parse_frozen_values

    raw = flags.get("freeze_placeholder_with_value")
    for name, values in parse_frozen_values(raw) if raw is not None else ():
        if same_tensor([name], info.names):
            array = np.asarray(values, dtype=info.dtype)
            if info.shape is not None and None not in info.shape \
                    and int(np.prod(info.shape)) == array.size:
                array = array.reshape(info.shape)
            return array
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
