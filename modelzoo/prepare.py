"""Prepare stage: find the model inside an unpacked archive and record how to convert it.

An archive may hold an ONNX file, a frozen GraphDef, a SavedModel folder, a checkpoint with
its meta graph or a Keras file (.keras, .h5), and (from the TF Object Detection API zoo) a
`pipeline.config`. `locate_model` finds them (or checks the manifest's `model` key);
`prepare_model` writes `prepared.json`: where the model is and which converter flags read it.

Most models are converted from where they lie in the unpacked tree: the converter reads
SavedModels and checkpoints itself (TensorFlow only as its fallback, said in the log), so
preparing them imports nothing heavy. Two kinds are written into the prepared folder instead:
a Keras file is saved as a SavedModel (loading Keras needs TensorFlow), and an Object Detection
API checkpoint is frozen by our checkpoint reader into `frozen.pb` (the converter's detection
path, chosen by the pipeline.config, reads a graph, not a checkpoint).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import PipelineError

log = logging.getLogger(__name__)

SKIP_PARTS = {"variables", "__MACOSX"}
# What an Object Detection API export computes (its exporter's names): the outputs of a
# detector with a pipeline.config when the manifest names none, so that freezing its
# checkpoint keeps them and not the loose ends of the training graph.
DETECTION_OUTPUTS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")


class PrepareError(PipelineError):
    """The archive holds no convertible model, or several and the manifest does not say which."""


@dataclass(frozen=True)
class ModelLocation:
    """Where the model sits in the unpacked tree (paths relative to the tree)."""

    kind: str                      # onnx | frozen | text | saved_model | checkpoint | keras
    path: str                      # the file, the SavedModel folder, or the .meta file
    checkpoint: str | None = None  # the checkpoint prefix, for kind == checkpoint
    pipeline_config: str | None = None

    @property
    def framework(self) -> str:
        return "onnx" if self.kind == "onnx" else "tf"


def model_outputs(outputs: tuple[str, ...], location: "ModelLocation | dict") -> tuple[str, ...]:
    """The outputs to freeze and to compare: a detector's four detection outputs (its --output
    only selects the postprocessing replacement, whose one output stands for all four), else
    mo's --output, else none (the graph's own)."""
    config = location.get("pipeline_config") if isinstance(location, dict) else location.pipeline_config
    return DETECTION_OUTPUTS if config else tuple(outputs)


def _kind_of(path: Path) -> str | None:
    if path.is_dir():
        return "saved_model" if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file() else None
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in KERAS_SUFFIXES:
        return "keras"
    if suffix == ".meta":
        return "checkpoint"
    if suffix in (".pb", ".graphdef") and path.name != "saved_model.pb":
        return "frozen"
    if suffix == ".pbtxt" and path.name != "saved_model.pbtxt":
        return "text"
    return None


def _candidates(tree: Path) -> list[tuple[str, Path]]:
    """Every convertible model in `tree`. What lies inside a SavedModel folder is part of it
    (TF >= 2.12 writes `fingerprint.pb` beside `saved_model.pb`), never a model of its own."""
    found = []
    saved_models: list[Path] = []
    for path in sorted(tree.rglob("*")):
        if SKIP_PARTS & set(path.relative_to(tree).parts) or path.name.startswith("."):
            continue
        if any(folder in path.parents for folder in saved_models):
            continue
        kind = _kind_of(path)
        if kind:
            found.append((kind, path))
        if kind == "saved_model":
            saved_models.append(path)
    return found


# When an archive holds several forms of one model (the TF detection zoo ships a frozen graph,
# a SavedModel and a checkpoint together), the first kind in this order is taken.
PREFERENCE = {"onnx": ("onnx",), "tf": ("frozen", "saved_model", "checkpoint", "text", "keras"),
              None: ("onnx", "frozen", "saved_model", "checkpoint", "text", "keras")}
# Keras model files (Keras 3 `.keras` archives, legacy HDF5): saved as a SavedModel first.
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def locate_model(tree: Path, label: str, model: str | None = None, framework: str | None = None) -> ModelLocation:
    """The model to convert in `tree`; `label` names the manifest entry in errors."""
    tree = Path(tree)
    if model is not None:
        path = tree / model
        kind = _kind_of(path) if path.exists() else None
        if kind is None:
            listing = ", ".join(str(p.relative_to(tree)) for _, p in _candidates(tree)) or "none"
            what = "does not exist" if not path.exists() else "is not an ONNX file, GraphDef, SavedModel or .meta"
            raise PrepareError(f"{label}: model = {model!r} {what} in the archive; "
                               f"convertible files found: {listing}")
        return _location(tree, kind, path)
    candidates = _candidates(tree)
    for kind in PREFERENCE[framework]:
        matches = [p for k, p in candidates if k == kind]
        if len(matches) == 1:
            return _location(tree, kind, matches[0])
        if len(matches) > 1:
            names = ", ".join(str(p.relative_to(tree)) for p in matches)
            raise PrepareError(f"{label}: the archive holds several {kind} models ({names}); "
                               f"say which with `model = \"...\"` in the manifest")
    raise PrepareError(f"{label}: the archive holds no ONNX file, GraphDef, SavedModel or "
                       f"checkpoint (.meta); check the url, or set `model` to the file inside it")


def _location(tree: Path, kind: str, path: Path) -> ModelLocation:
    checkpoint = None
    if kind == "checkpoint":
        prefix = path.with_suffix("")
        if not Path(f"{prefix}.index").exists():
            raise PrepareError(f"{path.relative_to(tree)}: a meta graph without its checkpoint "
                               f"({prefix.name}.index and data files) beside it")
        checkpoint = str(prefix.relative_to(tree))
    return ModelLocation(kind, str(path.relative_to(tree)), checkpoint, _pipeline_config(tree, path))


def _pipeline_config(tree: Path, model: Path) -> str | None:
    """The Object Detection API's pipeline.config nearest the model, if the archive has one."""
    folder = model if model.is_dir() else model.parent
    while True:
        candidate = folder / "pipeline.config"
        if candidate.is_file():
            return str(candidate.relative_to(tree))
        if folder == tree or tree not in folder.parents:
            return None
        folder = folder.parent


# The converter flags that say where the model is; prepared.json gives each as a path relative
# to the unpacked tree or to the prepared folder ({"in": "tree" | "prepared", "path": ...}).
MODEL_FLAGS = ("input_model", "saved_model_dir", "input_meta_graph", "input_checkpoint")
# Where a Keras file's SavedModel and a detection checkpoint's frozen graph go, in the prepared
# folder.
KERAS_EXPORT = "saved_model"
FROZEN_DETECTOR = "frozen.pb"


def prepare_model(tree: Path, location: ModelLocation, outputs: tuple[str, ...], staging: Path) -> dict:
    """Write what conversion needs into `staging`; return the description (also prepared.json).

    `outputs` are what to freeze a detector's checkpoint to (see `model_outputs`); a
    SavedModel's tags (mo's --saved_model_tags) reach the converter as its flag. Paths are kept
    relative (to the unpacked tree, or to the prepared folder) so that a cache restored
    elsewhere still resolves."""
    tree = Path(tree)
    info = {"location": asdict(location), "framework": location.framework,
            "input_model_is_text": location.kind == "text", "inputs": None, "outputs": None}
    if location.kind in ("onnx", "frozen", "text"):
        info["input_model"] = _in_tree(location.path)
    elif location.kind == "saved_model":
        info["saved_model_dir"] = _in_tree(location.path)
    elif location.kind == "keras":
        keras_to_saved_model(tree / location.path, staging / KERAS_EXPORT)
        info["saved_model_dir"] = _in_prepared(KERAS_EXPORT)
    elif location.pipeline_config:
        frozen = _freeze_detector_checkpoint(tree, location, outputs)
        (staging / FROZEN_DETECTOR).write_bytes(frozen.graph_def)
        info["input_model"] = _in_prepared(FROZEN_DETECTOR)
        info["inputs"], info["outputs"] = dict(frozen.inputs), dict(frozen.outputs)
    else:
        info["input_meta_graph"] = _in_tree(location.path)
        info["input_checkpoint"] = _in_tree(location.checkpoint)
    (staging / "prepared.json").write_text(json.dumps(info, indent=1, sort_keys=True))
    return info


def _in_tree(path: str) -> dict:
    return {"in": "tree", "path": path}


def _in_prepared(path: str) -> dict:
    return {"in": "prepared", "path": path}


def _freeze_detector_checkpoint(tree: Path, location: ModelLocation, outputs: tuple[str, ...]):
    """An Object Detection API checkpoint frozen to `outputs` by our own reader (no
    TensorFlow); through TensorFlow only for what the reader cannot handle, said in the log.
    Returns a FrozenGraph (serialized GraphDef, inputs and outputs by name)."""
    from converter.frontends.tf.checkpoint import UnsupportedCheckpoint, freeze_checkpoint_graph
    from converter.frontends.tf.freeze import FrozenGraph, freeze_checkpoint

    meta_graph, prefix = tree / location.path, tree / location.checkpoint
    try:
        graph_def, inputs, tensors = freeze_checkpoint_graph(meta_graph, prefix, list(outputs) or None)
    except UnsupportedCheckpoint as exc:
        log.warning("%s; freezing it through TensorFlow instead", exc)
        return freeze_checkpoint(meta_graph, prefix, list(outputs) or None)
    return FrozenGraph(graph_def.SerializeToString(), inputs, tensors)


def keras_to_saved_model(path: Path, folder: Path) -> Path:
    """Save the Keras model in `path` (.keras, or legacy .h5) as a SavedModel in `folder`
    (its serving signature, as `model.export` writes it); imports TensorFlow."""
    from converter.frontends.tf.freeze import import_tensorflow

    import_tensorflow()
    import keras

    try:
        model = keras.models.load_model(str(path), compile=False)
    except (OSError, ValueError, TypeError) as exc:
        raise PrepareError(f"{path.name}: Keras cannot load this model ({exc})") from None
    model.export(str(folder), format="tf_saved_model", verbose=False)
    return folder


def read_prepared(folder: Path, tree: Path) -> dict:
    """The description `prepare_model` wrote, with each of `MODEL_FLAGS` it gives resolved to
    a path (under `tree` or `folder`)."""
    info = json.loads((Path(folder) / "prepared.json").read_text())
    for flag in MODEL_FLAGS:
        where = info.get(flag)
        if where is not None:
            base = Path(tree) if where["in"] == "tree" else Path(folder)
            info[flag] = str(base / where["path"])
    if info["location"]["pipeline_config"]:
        info["pipeline_config"] = str(Path(tree) / info["location"]["pipeline_config"])
    return info
