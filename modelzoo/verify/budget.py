"""How far an IR may be from its source: the tolerance, relative to each output's range.

FP32 IRs compute what the source computes up to summation order: 1e-4 of the range is plenty.
An FP16 IR stores its weights in float16, and how much that alone moves the outputs depends on
the model (a thin MobileNet moves by 1e-2 of its range, a small CNN by 1e-4). A fixed FP16
tolerance is therefore either too loose for most models or fails correct ones. Instead the
source is run once more with its weights rounded to float16, and the IR may be a small multiple
of that error away. A tolerance given in the manifest (or on the command line) still wins.
"""
from __future__ import annotations

from typing import Any

from .compare import output_errors
from .errors import VerifierUnavailable

FP32_TOLERANCE = 1e-4
# The IR rounds more than the weights (the preprocessing constants, folded constants), and
# OpenVINO sums in another order: a few times the weights' own error covers that.
FP16_MULTIPLE = 4.0
# Never stricter than this, so that a model whose weights happen to round almost exactly
# does not fail on the rounding of everything else.
FP16_FLOOR = 1e-3
FP16_FALLBACK = 1e-2


def tolerance_for(precision: str, given: float | None, reference, feeds: dict[str, Any],
                  expected: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """The tolerance and how it was found (recorded in the report as `tolerance_from`)."""
    if given is not None:
        return float(given), {"source": "given"}
    if precision != "FP16":
        return FP32_TOLERANCE, {"source": "default"}
    try:
        rounded = reference.with_fp16_weights().run(feeds)
    except VerifierUnavailable as exc:
        return FP16_FALLBACK, {"source": "default", "why": f"the FP16 budget could not be "
                                                           f"measured: {exc}"}
    error = weights_error(rounded, expected)
    if error != error or error == float("inf"):
        return FP16_FALLBACK, {"source": "default", "why": "the source with float16 weights "
                                                           "computes NaN or inf"}
    budget = max(FP16_MULTIPLE * error, FP16_FLOOR)
    return budget, {"source": "derived", "fp16_weights_error": error, "multiple": FP16_MULTIPLE,
                    "floor": FP16_FLOOR,
                    "how": "the source run with its weights rounded to float16: its largest "
                           "error relative to an output's range, times the multiple"}


def weights_error(rounded: dict[str, Any], expected: dict[str, Any]) -> float:
    """The largest error (relative to the range) of the rounded-weights run over all outputs."""
    import numpy as np

    worst = 0.0
    for name, value in expected.items():
        value = np.asarray(value)
        if name not in rounded or value.size == 0 or value.dtype == np.bool_:
            continue
        _, relative = output_errors(np.asarray(rounded[name], np.float64), value.astype(np.float64))
        worst = max(worst, relative)
    return worst
