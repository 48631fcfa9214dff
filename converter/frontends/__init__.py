"""Frontends translate a source model into a `Graph` of OpenVINO ops; nothing else.

`load(options)` picks the frontend by `--framework` or by what the file is, and each frontend
module exposes `load(options) -> Graph`. Frontends are imported only when used, so converting
ONNX never imports the TensorFlow frontend and vice versa.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ModelLoadError, UserInputError
from ..graph import Graph
from ..options import ConversionOptions

FRONTENDS = {"onnx": "converter.frontends.onnx", "tf": "converter.frontends.tf"}


def detect_framework(options: ConversionOptions) -> str:
    """`onnx` or `tf`, from the flags first and then from the model file itself."""
    if options.framework:
        return options.framework
    if options.saved_model_dir or options.input_meta_graph or options.input_checkpoint:
        return "tf"
    if not options.input_model:
        raise UserInputError("no model given: pass --input_model (or --saved_model_dir, "
                             "--input_meta_graph for TensorFlow)")
    path = Path(options.input_model)
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
            return "tf"
        raise ModelLoadError(f"{path}: a folder, but not a TensorFlow SavedModel "
                             f"(no saved_model.pb in it)")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pb", ".pbtxt", ".meta", ".graphdef"):
        return "tf"
    raise UserInputError(f"{path}: cannot tell the framework from the file name; pass "
                         f"--framework onnx or --framework tf")


def load(options: ConversionOptions, framework: str | None = None) -> Graph:
    """The model as a Graph, by the frontend for `framework` (detected when not given)."""
    framework = framework or detect_framework(options)
    module = importlib.import_module(FRONTENDS[framework])
    return module.load(options)
