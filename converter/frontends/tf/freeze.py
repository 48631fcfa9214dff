"""Freezing: a SavedModel or a checkpoint with its meta graph -> one frozen GraphDef.

The only module of the frontend that imports TensorFlow, and only inside its functions. The
build pipeline's prepare stage calls these to write a frozen .pb once; `load()` calls them
for SavedModel and checkpoint input. Each returns a `FrozenGraph`: the serialized GraphDef
(`bytes(frozen)` or `.graph_def`) with the model's input and output tensor names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ModelLoadError, UserInputError
from .graph_def import find_sinks, split_tensor_name


def import_tensorflow():
    """TensorFlow, imported only here and without its C++ INFO/WARNING lines on stderr (they
    would drown a build log); an explicit TF_CPP_MIN_LOG_LEVEL from the user still wins."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow

    return tensorflow


@dataclass(frozen=True)
class FrozenGraph:
    """A frozen GraphDef and how to feed and read it.

    `inputs` and `outputs` map a name to a tensor of the frozen graph (`x:0`): for a
    SavedModel the signature's names (`{"output_0": "Identity:0"}`), for a checkpoint the
    tensor names themselves."""

    graph_def: bytes
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def __bytes__(self) -> bytes:
        return self.graph_def


def freeze_saved_model(folder: str | Path, tags: list[str] | tuple[str, ...] | None = None,
                       signature: str = "serving_default") -> FrozenGraph:
    """Freeze one signature of a SavedModel: TF2 through its concrete function, a TF1
    SavedModel (no usable TF2 signature) through a session and `tags` ("serve" by default)."""
    folder = Path(folder)
    if not (folder / "saved_model.pb").exists() and not (folder / "saved_model.pbtxt").exists():
        raise ModelLoadError(f"{folder}: not a SavedModel folder (no saved_model.pb); pass the "
                             f"folder tf.saved_model.save wrote")
    tf = import_tensorflow()

    tags = list(tags) if tags else _default_tags(folder)
    try:
        loaded = tf.saved_model.load(str(folder), tags=tags)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{folder}: TensorFlow cannot load this SavedModel ({exc})") from None
    function = getattr(loaded, "signatures", {}).get(signature)
    if function is not None:
        try:
            return _freeze_function(function)
        except (ValueError, TypeError, RuntimeError):
            pass  # a TF1 model wrapped by the TF2 loader: freeze it in a session instead
    return _freeze_v1_saved_model(folder, tags, signature)


def _default_tags(folder: Path) -> list[str] | None:
    """Without --saved_model_tags: the only meta graph when there is one (None lets the loader
    take it), else the one tagged "serve", as the Model Optimizer does."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = folder / "saved_model.pb"
    if not path.exists():
        return None
    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString(path.read_bytes())
    except Exception:  # noqa: BLE001 - the loader reports a broken file properly
        return None
    return None if len(saved.meta_graphs) <= 1 else ["serve"]


def _freeze_function(function) -> FrozenGraph:
    tf = import_tensorflow()
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    frozen = convert_variables_to_constants_v2(function)
    inputs = {tensor.name.split(":")[0]: tensor.name for tensor in frozen.inputs
              if tensor.dtype != tf.resource}
    structured = function.structured_outputs
    names = sorted(structured) if isinstance(structured, dict) else [
        f"output_{i}" for i in range(len(frozen.outputs))]
    outputs = {name: tensor.name for name, tensor in zip(names, frozen.outputs)}
    return FrozenGraph(frozen.graph.as_graph_def().SerializeToString(), inputs, outputs)


def _freeze_v1_saved_model(folder: Path, tags, signature: str) -> FrozenGraph:
    tf = import_tensorflow()

    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as session:
        meta_graph = v1.saved_model.loader.load(session, list(tags or ["serve"]), str(folder))
        if signature not in meta_graph.signature_def:
            known = ", ".join(sorted(meta_graph.signature_def)) or "none"
            raise UserInputError(f"{folder}: no signature {signature!r} (signatures: {known})")
        sig = meta_graph.signature_def[signature]
        inputs = {name: info.name for name, info in sig.inputs.items()}
        outputs = {name: info.name for name, info in sig.outputs.items()}
        nodes = sorted({split_tensor_name(t)[0] for t in outputs.values()})
        graph_def = v1.graph_util.convert_variables_to_constants(
            session, graph.as_graph_def(), nodes)
    return FrozenGraph(graph_def.SerializeToString(), inputs, outputs)


def freeze_checkpoint(meta_graph: str | Path, checkpoint_prefix: str | Path,
                      outputs: list[str] | None = None) -> FrozenGraph:
    """Restore a checkpoint into the graph of its .meta file and freeze the variables.

    `outputs` names output nodes or tensors; without them the graph's sinks are used (the
    nodes nothing consumes, saving and initialisation left out)."""
    if not Path(meta_graph).is_file():
        raise ModelLoadError(f"{meta_graph}: no such meta graph file (the .meta written by "
                             f"tf.compat.v1.train.Saver)")
    tf = import_tensorflow()

    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as session:
        try:
            saver = v1.train.import_meta_graph(str(meta_graph), clear_devices=True)
            saver.restore(session, str(checkpoint_prefix))
        except (OSError, ValueError, tf.errors.OpError) as exc:
            raise ModelLoadError(f"{meta_graph} with checkpoint {checkpoint_prefix}: cannot "
                                 f"restore ({exc})") from None
        full = graph.as_graph_def()
        names = list(outputs) if outputs else find_sinks(full.node)
        nodes = sorted({split_tensor_name(name)[0] for name in names})
        graph_def = v1.graph_util.convert_variables_to_constants(session, full, nodes)
    placeholders = {node.name: f"{node.name}:0" for node in graph_def.node
                    if node.op == "Placeholder"}
    tensors = {name: name if ":" in name else f"{name}:0" for name in names}
    return FrozenGraph(graph_def.SerializeToString(), placeholders, tensors)
