"""Prepare stage: find the model inside an unpacked archive and make it convertible.

An archive may hold an ONNX file, a frozen GraphDef, a SavedModel folder, a checkpoint with
its meta graph or a Keras file (.keras, .h5: saved as a SavedModel first), and (from the TF
Object Detection API zoo) a `pipeline.config`. `locate_model`
finds them (or checks the manifest's `model` key); `prepare_model` freezes a SavedModel or a
checkpoint into a GraphDef once, so that every precision converts from the same frozen bytes
without importing TensorFlow again. The result is described by a small JSON document.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import PipelineError

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


def prepare_model(tree: Path, location: ModelLocation, outputs: tuple[str, ...], staging: Path,
                  tags: tuple[str, ...] = ()) -> dict:
    """Write what conversion needs into `staging`; return the description (also prepared.json).

    ONNX files and frozen graphs are used where they lie in the unpacked tree; a SavedModel or a
    checkpoint is frozen here into `staging/frozen.pb` (a SavedModel's meta graph chosen by
    `tags`, mo's --saved_model_tags; "serve" when empty)."""
    tree = Path(tree)
    info = {"location": asdict(location), "framework": location.framework,
            "input_model_is_text": location.kind == "text", "inputs": None, "outputs": None}
    # Paths are kept relative (to the unpacked tree, or to the prepared folder) so that a cache
    # restored elsewhere still resolves.
    if location.kind in ("onnx", "frozen", "text"):
        info["input_model"] = {"in": "tree", "path": location.path}
    else:
        frozen = _freeze(tree, location, outputs, tags, staging)
        (staging / "frozen.pb").write_bytes(frozen.graph_def)
        info["input_model"] = {"in": "prepared", "path": "frozen.pb"}
        info["inputs"] = dict(getattr(frozen, "inputs", {}) or {})
        info["outputs"] = dict(frozen.outputs)
    (staging / "prepared.json").write_text(json.dumps(info, indent=1, sort_keys=True))
    return info


def _freeze(tree: Path, location: ModelLocation, outputs: tuple[str, ...], tags: tuple[str, ...],
            staging: Path):
    from converter.frontends.tf.freeze import freeze_checkpoint, freeze_saved_model

    if location.kind == "saved_model":
        return freeze_saved_model(tree / location.path, tags=list(tags) or None)
    if location.kind == "keras":
        export = staging / "keras_saved_model"
        keras_to_saved_model(tree / location.path, export)
        return freeze_saved_model(export)
    return freeze_checkpoint(tree / location.path, tree / location.checkpoint, list(outputs) or None)


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
    """The description `prepare_model` wrote, with `input_model` resolved to a path."""
    info = json.loads((Path(folder) / "prepared.json").read_text())
    where = info["input_model"]
    base = Path(tree) if where["in"] == "tree" else Path(folder)
    info["input_model"] = str(base / where["path"])
    if info["location"]["pipeline_config"]:
        info["pipeline_config"] = str(Path(tree) / info["location"]["pipeline_config"])
    return info
