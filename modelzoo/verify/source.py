"""What the verifier knows of a source model, and what a reference runner offers.

A `SourceModel` says where the original model is and how the Model Optimizer was told to cut
it. `references.open_reference(source)` returns a `Reference`: the model loaded in a runtime
that shares no code with the converter (onnxruntime or `onnx.reference`, TensorFlow), with its
inputs and outputs described as `TensorInfo` and a `run` method.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

KINDS = ("onnx", "frozen", "text", "saved_model", "checkpoint")


@dataclass(frozen=True)
class SourceModel:
    """The original model. `inputs`/`outputs` are mo's `--input`/`--output` names (without
    shapes or values): an `--input` that names an inner TF node is fed instead of what computes
    it; `--output` picks the tensors compared (the model's own outputs when empty)."""

    path: Path                         # .onnx, .pb/.pbtxt, SavedModel folder, or .meta file
    framework: str                     # "onnx" | "tf"
    kind: str                          # one of KINDS
    checkpoint: Path | None = None     # the checkpoint prefix, for kind == "checkpoint"
    tags: tuple[str, ...] = ()         # SavedModel tags; empty means "serve"
    signature: str = "serving_default"
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    @classmethod
    def from_file(cls, path: str | Path, framework: str | None = None, **more) -> "SourceModel":
        """The kind from the path: a folder is a SavedModel, `.meta` a checkpoint's graph
        (its prefix beside it), `.pbtxt` a text GraphDef, `.onnx` ONNX, else a frozen .pb."""
        path = Path(path)
        if path.is_dir():
            kind = "saved_model"
        else:
            kind = {".onnx": "onnx", ".meta": "checkpoint", ".pbtxt": "text"}.get(
                path.suffix.lower(), "frozen")
        if kind == "checkpoint" and "checkpoint" not in more:
            more["checkpoint"] = path.with_suffix("")
        framework = framework or ("onnx" if kind == "onnx" else "tf")
        return cls(path, framework, kind, **more)


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of a reference. `name` is what `run` takes and returns it by;
    `aliases` are other names it is known by (a TF node name without `:0`, a SavedModel
    signature key), which IR port names may carry instead. `shape` is None when the rank is
    unknown; a None dim is dynamic. `dtype` is a numpy dtype name ("float32", "int64", ...)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None = None
    aliases: frozenset[str] = field(default_factory=frozenset)

    @property
    def names(self) -> frozenset[str]:
        return self.aliases | {self.name}


class Reference(Protocol):
    """A source model loaded in its own framework's runtime."""

    runtime: str                # "onnxruntime" | "onnx.reference" | "tensorflow"
    version: str                # that runtime's version
    detail: str                 # how it was loaded, for the report (one line)
    inputs: list[TensorInfo]    # what must be fed (after any --input cut)
    outputs: list[TensorInfo]   # what is compared (after any --output choice), in order

    def run(self, feeds: dict[str, "object"]) -> dict[str, "object"]:
        """Run on `feeds` (numpy arrays by input name); every output by its `name`, in the
        dtype the model produces it."""

    def with_fp16_weights(self) -> "Reference":
        """The same model with every floating-point weight rounded to float16 and back: how
        far that moves the outputs is the error an FP16 IR is allowed."""
