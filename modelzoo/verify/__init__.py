"""Verification: does an IR compute what its source model computes, on the inputs it will get?

`verify_ir` checks the IR's structure (our validator), checks that the shapes OpenVINO infers
agree with the dims written on every port, then runs the IR in OpenVINO and the source model in
its own framework (`references`: onnxruntime or `onnx.reference`, TensorFlow; the original
SavedModel or checkpoint, never our frozen copy) on the same seeded inputs, and compares every
output: element type, shape, values.

Two things keep the check honest:
- inputs cover the domain the model really receives (`inputs`): raw pixels 0..255 for an image
  input whose mean/scale/reverse-channels are baked in, structured so that spatial and channel
  bugs show;
- the reference's preprocessing is read from the Model Optimizer's flags by code of its own
  (`preprocess`), so the converter's planning cannot cancel out on both sides.

A wrong IR gives a failed report (a verdict, cached by the pipeline); a check that cannot run
raises `VerifierUnavailable` (never cached). Heavy modules are imported inside the functions:
importing this package costs nothing.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

from .compare import output_errors  # noqa: F401 - part of the package's API (bench uses it)
from .errors import VerificationError, VerifierUnavailable
from .source import SourceModel

__all__ = ["verify_ir", "assert_passed", "VerificationError", "VerifierUnavailable",
           "SourceModel", "output_errors"]


def verify_ir(xml_path: str | Path, source: SourceModel | str | Path, framework: str | None = None,
              *, precision: str = "FP32", tolerance: float | None = None,
              flags: Mapping[str, Any] | None = None, inputs: Any = None,
              base_dir: str | Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Compare the IR at `xml_path` with `source` on seeded inputs; return the report.

    `flags` are the Model Optimizer's flags the IR was made with (mean_values, scale_values,
    scale, reverse_input_channels, input, output, input_shape; text or TOML values). `inputs`
    is the manifest's `verify_inputs` (relative files resolve against `base_dir`). `tolerance`
    None means 1e-4 for FP32 and a budget measured from the model for FP16 (see `budget`).
    """
    from .run import Verification

    flags = dict(flags or {})
    if not isinstance(source, SourceModel):
        source = SourceModel.from_file(source, framework, inputs=cut_names(flags.get("input")),
                                       outputs=output_names(flags.get("output")))
    started = time.monotonic()
    report = Verification(Path(xml_path), source, precision, tolerance, flags,
                          inputs, Path(base_dir) if base_dir else None, seed).run()
    report["seconds"] = round(time.monotonic() - started, 3)
    return report


def cut_names(raw: Any) -> tuple[str, ...]:
    """The tensor names of mo's `--input` (`a[1 3],b->[5]`, or a list), without shapes/values."""
    if not raw:
        return ()
    items = raw if isinstance(raw, (list, tuple)) else _split_outside_brackets(str(raw))
    return tuple(str(item).split("[")[0].split("->")[0].strip() for item in items
                 if str(item).strip())


def output_names(raw: Any) -> tuple[str, ...]:
    if not raw:
        return ()
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _split_outside_brackets(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def assert_passed(report: dict[str, Any], model_name: str) -> None:
    """Raise `VerificationError` naming the model, the output and the error when it failed."""
    if report["passed"]:
        return
    lines = [f"{model_name}: IR {report['model']} failed verification against {report['source']} "
             f"({report['precision']}, tolerance {report['tolerance'] or 0:g} of each output's "
             f"range)"]
    lines += [f"  structure: {p}" for p in report["structural_problems"]]
    lines += [f"  shape: {m}" for m in report["shape_mismatches"]]
    lines += [f"  input: {p}" for p in report.get("input_problems", [])]
    if report.get("error"):
        lines.append(f"  error: {report['error']}")
    for output in report["outputs"]:
        if not output["passed"]:
            lines.append(f"  output {output['name']!r}: {output.get('problem') or ''}"
                         f"max abs error {output['max_abs_error']}, relative to range "
                         f"{output['max_rel_error']}")
    if report.get("nothing_compared"):
        lines.append(f"  {report['nothing_compared']}")
    elif not report["outputs"] and len(lines) == 1:
        lines.append("  no outputs were compared")
    raise VerificationError("\n".join(lines))
