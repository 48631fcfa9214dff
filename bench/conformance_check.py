"""One conformance check, in a worker process: convert a case with one side, read the IR back
from disk, compile it on CPU (f32), feed the case's inputs by name and compare every expected
output with the case's own rtol/atol.

Stages, in order: convert, read, compile, infer, compare; the first that fails is recorded with
the first line of its error. Floats compare by `numpy.allclose` (NaN equal to NaN), integers,
booleans and strings exactly, and shapes always.
"""
from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .conformance_cases import Case

SIDES = ("ours", "ovc")
CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}


@dataclass
class Outcome:
    passed: bool
    stage: str | None = None  # where it failed; None when it passed
    error: str | None = None
    max_abs_error: float | None = None
    seconds: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


class StageFailed(Exception):
    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage


def check(case: Case, side: str) -> Outcome:
    """The whole check of `case` converted by `side` ("ours" or "ovc")."""
    if case.load_error:
        return Outcome(False, "load", case.load_error)
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        work = Path(tmp)
        try:
            return run_stages(case, side, work)
        except StageFailed as failure:
            return Outcome(False, failure.stage, clean(str(failure), work))


def run_stages(case: Case, side: str, work: Path) -> Outcome:
    source = work / "model.onnx"
    source.write_bytes(case.model_bytes)
    xml = stage("convert", convert_ours if side == "ours" else convert_ovc, source, work / "ir")
    import openvino as ov

    core = ov.Core()
    model = stage("read", core.read_model, str(xml))
    compiled = stage("compile", core.compile_model, model, "CPU", CONFIG)
    worst = 0.0
    for inputs, expected in case.data_sets:
        actual = stage("infer", infer, compiled, inputs)
        worst = max(worst, stage("compare", compare, actual, expected, case.rtol, case.atol))
    return Outcome(True, max_abs_error=worst)


def stage(name: str, function, *args):
    try:
        return function(*args)
    except StageFailed:
        raise
    except BaseException as error:  # noqa: BLE001 - any error is this stage's failure
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        message = telling_line(str(error)) or type(error).__name__
        raise StageFailed(name, f"{type(error).__name__}: {message}") from error


RUNTIME_PREAMBLE = re.compile(r"^(Check '.*' failed at |Exception from src/|\[ GENERAL_ERROR \]\s*$"
                              r"|FrontEnd API failed with |Model wasn't fully converted|Summary:$)")


def telling_line(text: str) -> str:
    """The first line of an error that says something: OpenVINO's messages open with where in
    its sources the check was ("Check 'false' failed at src/...:"), the cause comes after."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    telling = [line for line in lines if not RUNTIME_PREAMBLE.match(line)]
    return (telling or lines or [""])[0]


def clean(message: str, work: Path) -> str:
    """The message without the temporary folder, so the same failure reads the same."""
    return message.replace(f"{work}/", "").replace(str(work), "")


def convert_ours(source: Path, out: Path) -> Path:
    """Our conversion, its warnings silenced for the call only (the handler tests run cases in
    their own process, whose logging must stay as it was)."""
    from converter import convert

    logger = logging.getLogger("converter")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return Path(convert(source, output_dir=out, model_name="model"))
    finally:
        logger.setLevel(level)


def convert_ovc(source: Path, out: Path) -> Path:
    import openvino as ov

    xml = out / "model.xml"
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.convert_model(str(source)), str(xml), compress_to_fp16=False)
    return xml


# --- feeding -------------------------------------------------------------------------------

def infer(compiled, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run once; the IR's inputs are fed by name (an ONNX input the IR dropped is not fed).
    Returns each output under every name it carries, and under `#index`."""
    request = compiled.create_infer_request()
    for index, port in enumerate(compiled.inputs):
        name = input_name(port, index, inputs, len(compiled.inputs))
        if name is None:
            raise ValueError(f"the IR's input {sorted(port.get_names())} is not among the case's "
                             f"inputs {sorted(inputs)}")
        request.set_tensor(port, to_tensor(inputs[name], port, name))
    request.infer()
    results: dict[str, Any] = {}
    for index, port in enumerate(compiled.outputs):
        value = from_tensor(request.get_tensor(port))
        results[f"#{index}"] = value
        results.update({name: value for name in port.get_names()})
    return results


def input_name(port, index: int, inputs: dict[str, Any], ir_inputs: int) -> str | None:
    """The case's input an IR input stands for: one of its tensor names, else its Parameter's
    name, else, when the IR kept every input, the one at its position. (ovc folds a
    pass-through so that its Parameter carries only the output's name; such an input would
    otherwise stay unfed, holding whatever memory the runtime gave it.)"""
    names = [*sorted(port.get_names()), port.get_node().get_friendly_name()]
    found = next((name for name in names if name in inputs), None)
    if found is None and ir_inputs == len(inputs):
        found = list(inputs)[index]
    return found


SUBBYTE = {"u4", "i4", "f4e2m1"}


def to_tensor(value: Any, port, name: str):
    import openvino as ov

    if value is None or isinstance(value, list):
        kind = "an empty optional" if value is None else "a sequence"
        raise TypeError(f"input {name!r} is {kind}; the IR takes tensors")
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind in "US":
        return ov.Tensor(np.array([as_text(v) for v in array.ravel()]).reshape(array.shape))
    element_type = port.get_element_type()
    if array.dtype.type.__module__ == "numpy" and array.dtype.kind != "V":
        return ov.Tensor(array.copy(order="C"))  # (ascontiguousarray makes scalars 1-D)
    return raw_tensor(array, element_type)


def raw_tensor(array: np.ndarray, element_type):
    """An array of a type numpy lacks (bfloat16, float8, 4-bit, from ml_dtypes) copied bit
    for bit into a tensor of the IR input's own element type."""
    import openvino as ov

    tensor = ov.Tensor(element_type, list(array.shape))
    if element_type.get_type_name() in SUBBYTE:
        packed = pack_nibbles(array.view(np.uint8).ravel())
    else:
        packed = np.ascontiguousarray(array.reshape(-1)).view(np.uint8)
    target = tensor.data.reshape(-1).view(np.uint8)
    if target.size != packed.size:
        raise TypeError(f"cannot feed {array.dtype} to an input of {element_type}")
    target[:] = packed
    return tensor


def pack_nibbles(values: np.ndarray) -> np.ndarray:
    nibbles = values & 0x0F
    if nibbles.size % 2:
        nibbles = np.append(nibbles, 0)
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def from_tensor(tensor) -> np.ndarray:
    """The tensor as numpy, reading types numpy lacks through ml_dtypes."""
    import ml_dtypes

    kind = tensor.element_type.get_type_name()
    if kind == "string":
        return np.array(tensor.str_data, dtype=object).reshape(tuple(tensor.shape))
    views = {"bf16": ml_dtypes.bfloat16, "f8e4m3": ml_dtypes.float8_e4m3fn,
             "f8e5m2": ml_dtypes.float8_e5m2}
    if kind in views:
        return tensor.data.view(np.uint8).view(views[kind]).reshape(tuple(tensor.shape)).copy()
    if kind in SUBBYTE:
        return unpack_nibbles(tensor.data.view(np.uint8).ravel(), kind, tuple(tensor.shape))
    return np.array(tensor.data, copy=True)


def unpack_nibbles(packed: np.ndarray, kind: str, shape: tuple) -> np.ndarray:
    import ml_dtypes

    nibbles = np.stack([packed & 0x0F, packed >> 4], axis=-1).ravel()[:int(np.prod(shape))]
    dtype = {"u4": ml_dtypes.uint4, "i4": ml_dtypes.int4, "f4e2m1": ml_dtypes.float4_e2m1fn}[kind]
    return nibbles.astype(np.uint8).view(dtype).reshape(shape)


# --- comparing -----------------------------------------------------------------------------

def compare(actual: dict[str, Any], expected: list[tuple[str, Any]], rtol: float,
            atol: float) -> float:
    """The max abs error over all outputs; raises naming the first output that differs.
    An output is found by its ONNX name, else by its position."""
    worst = 0.0
    for index, (name, want) in enumerate(expected):
        got = actual.get(name, actual.get(f"#{index}"))
        if got is None:
            raise AssertionError(f"output {name!r} missing from the IR")
        error = compare_one(name, got, want, rtol, atol)
        worst = max(worst, error) if np.isfinite(error) else worst
    return worst


def compare_one(name: str, got: np.ndarray, want: Any, rtol: float, atol: float) -> float:
    if want is None or isinstance(want, list):
        raise AssertionError(f"output {name!r} should be "
                             f"{'an empty optional' if want is None else 'a sequence'}")
    want = np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError(f"output {name!r} has shape {got.shape}, expected {want.shape}")
    if want.dtype == object or want.dtype.kind in "US":
        same = [as_text(a) == as_text(b) for a, b in zip(got.ravel(), want.ravel())]
        if not all(same):
            raise AssertionError(f"output {name!r}: {same.count(False)} strings differ")
        return 0.0
    exact = is_exact_type(want.dtype)
    got_f, want_f = as_float64(got), as_float64(want)
    error = max_abs_error(got_f, want_f)
    if exact:
        ok = np.array_equal(got_f, want_f) if want.dtype.itemsize < 8 else np.array_equal(got, want)
    else:
        ok = np.allclose(got_f, want_f, rtol=rtol, atol=atol, equal_nan=True)
    if not ok:
        raise AssertionError(f"output {name!r} differs: max abs error {error:.3g} "
                             f"({'exact' if exact else f'rtol {rtol:g}, atol {atol:g}'})")
    return error


def is_exact_type(dtype: np.dtype) -> bool:
    """Integer and boolean outputs compare exactly (ml_dtypes' int4/uint4 included)."""
    if dtype.kind in "biu":
        return True
    return dtype.name in ("int4", "uint4", "int2", "uint2")


def as_float64(array: np.ndarray) -> np.ndarray:
    return np.asarray(array).astype(np.float64)


def max_abs_error(got: np.ndarray, want: np.ndarray) -> float:
    if got.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        both_nan = np.isnan(got) & np.isnan(want)
        same_inf = np.isinf(want) & (got == want)
        diff = np.abs(got - want)
    diff = np.where(both_nan | same_inf, 0.0, diff)
    return float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))
