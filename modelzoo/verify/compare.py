"""Comparing the IR's outputs with the reference's, output by output.

Each pair is checked for the element type (an IR that turns a float output into int32 is
wrong, whatever its numbers), the shape, and then the values: the max absolute error and that
error relative to the reference's range (max - min), so one tolerance fits outputs of any
scale. An output with no elements has nothing to compare: it passes on type and shape alone and
says so, and a report whose outputs are all empty fails (nothing was checked).
"""
from __future__ import annotations

from typing import Any

# A constant reference falls back to its magnitude, then to 1, as the range.
_TINY_RANGE = 1e-12


def element_kind(dtype_name: str) -> str:
    """float, int, uint or bool: what must agree between the IR and the source."""
    import numpy as np

    dtype = np.dtype(dtype_name)
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.floating):
        return "float"
    if np.issubdtype(dtype, np.unsignedinteger):
        return "uint"
    if np.issubdtype(dtype, np.integer):
        return "int"
    return dtype.name


def types_agree(ir_dtype: str, source_dtype: str) -> bool:
    """Floats of any width agree (an FP16 IR may compute in f16); other types must be equal."""
    if element_kind(ir_dtype) == element_kind(source_dtype) == "float":
        return True
    import numpy as np

    return np.dtype(ir_dtype) == np.dtype(source_dtype)


def compare_output(name: str, ir_names: list[str], actual, expected, tolerance: float) -> dict[str, Any]:
    """One output's entry of the report; `actual` from OpenVINO, `expected` from the source."""
    import numpy as np

    actual, expected = np.asarray(actual), np.asarray(expected)
    entry: dict[str, Any] = {
        "name": name, "ir_names": ir_names, "shape": list(expected.shape),
        "ir_element_type": actual.dtype.name, "source_element_type": expected.dtype.name,
        "empty": expected.size == 0, "max_abs_error": None, "max_rel_error": None,
        "passed": False, "problem": None}
    if not types_agree(actual.dtype.name, expected.dtype.name):
        entry["problem"] = (f"the IR gives {actual.dtype.name}, the source "
                            f"{expected.dtype.name}; ")
        return entry
    if actual.shape != expected.shape:
        entry["problem"] = f"IR gives shape {list(actual.shape)}, source {list(expected.shape)}; "
        return entry
    abs_error, rel_error = output_errors(actual.astype(np.float64), expected.astype(np.float64))
    entry["max_abs_error"], entry["max_rel_error"] = abs_error, rel_error
    entry["passed"] = bool(rel_error <= tolerance)  # False for NaN too
    if entry["empty"]:
        entry["problem"] = "no elements: only the type and shape were compared; "
    return entry


def unmatched_output(name: str, ir_names: list[str], problem: str) -> dict[str, Any]:
    """The entry of an output present on one side only."""
    return {"name": name, "ir_names": ir_names, "shape": None, "ir_element_type": None,
            "source_element_type": None, "empty": False, "max_abs_error": None,
            "max_rel_error": None, "passed": False, "problem": problem}


def output_errors(actual, expected) -> tuple[float, float]:
    """(max absolute error, max error relative to the reference's range); NaN anywhere is inf
    (unless both sides agree on it: a model may compute NaN on purpose, e.g. 0/0)."""
    import numpy as np

    if expected.size == 0:
        return 0.0, 0.0
    both_nan = np.isnan(actual) & np.isnan(expected)
    same_inf = np.isinf(expected) & (actual == expected)
    settled = both_nan | same_inf
    diff = np.where(settled, 0.0, np.abs(actual - expected))
    if not np.all(np.isfinite(diff)):
        return float("inf"), float("inf")
    finite = expected[np.isfinite(expected)]
    spread = float(np.ptp(finite)) if finite.size else 0.0
    if spread <= _TINY_RANGE:
        spread = max(float(np.max(np.abs(finite))) if finite.size else 0.0, 1.0)
    max_abs = float(diff.max())
    return max_abs, max_abs / spread


def summarize(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's overall errors, and the reason to fail when nothing was compared."""
    compared = [o for o in outputs if o["max_abs_error"] is not None and not o["empty"]]
    summary: dict[str, Any] = {"max_abs_error": None, "max_rel_error": None, "nothing_compared": None}
    if compared:
        summary["max_abs_error"] = max(o["max_abs_error"] for o in compared)
        summary["max_rel_error"] = max(o["max_rel_error"] for o in compared)
    elif outputs and all(o["empty"] for o in outputs):
        summary["nothing_compared"] = ("every output is empty on these inputs, so no value was "
                                       "compared; give inputs that produce some (verify_inputs)")
    return summary
