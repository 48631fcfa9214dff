"""The TensorFlow frontend: a frozen GraphDef, a SavedModel or a checkpoint in, a Graph out.

A frozen GraphDef (binary .pb or text .pbtxt) is read with protobuf message classes built
at runtime (`proto.py`), so converting one never imports TensorFlow. A SavedModel or a
checkpoint with its meta graph is frozen first by `freeze.py`, which does import it.
Model inputs and outputs keep TensorFlow's NHWC layout; handlers wrap NCHW-only OpenVINO
ops in Transposes that the transpose-sinking pass cancels between neighbours.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import UnsupportedOpsError, UserInputError
from ...graph import Graph
from ...options import ConversionOptions
from .graph_def import parse_graph_def, read_graph_def
from .translate import translate

__all__ = ["load"]


def load(options: ConversionOptions) -> Graph:
    saved_model = _saved_model_folder(options)
    if saved_model is not None:
        return _load_saved_model(saved_model, options)
    if options.input_meta_graph:
        return _load_checkpoint(options)
    if not options.input_model:
        raise UserInputError("no TensorFlow model given: pass --input_model, --saved_model_dir "
                             "or --input_meta_graph")
    graph_def = read_graph_def(options.input_model, options.input_model_is_text)
    if _ssd_requested(options):
        return _convert_ssd(graph_def, options)
    # A graph frozen from a SavedModel ahead of time (the pipeline's prepare stage) keeps its
    # signature's output names through `extra["output_aliases"]` (tensor -> signature name).
    try:
        return translate(graph_def, options, output_aliases=dict(options.extra.get("output_aliases", {})))
    except UnsupportedOpsError as exc:
        if _looks_like_object_detection_api(graph_def):
            raise UserInputError(f"{exc}\nThis graph is a TF Object Detection API export: give "
                                 f"its pipeline.config with --tensorflow_object_detection_api_"
                                 f"pipeline_config, and its loops are cut and replaced") from exc
        raise


def _looks_like_object_detection_api(graph_def) -> bool:
    names = {node.name for node in graph_def.node}
    return "image_tensor" in names and any(n.startswith("Postprocessor/") for n in names)


def _ssd_requested(options: ConversionOptions) -> bool:
    """Whether the Object Detection API SSD replacement is asked for (by its pipeline.config
    or by mo's replacement-config flag)."""
    return bool(options.tensorflow_object_detection_api_pipeline_config
                or options.transformations_config)


def _convert_ssd(graph_def, options: ConversionOptions) -> Graph:
    from .odapi.ssd import convert_ssd

    return convert_ssd(graph_def, options)


def _saved_model_folder(options: ConversionOptions) -> Path | None:
    if options.saved_model_dir:
        return Path(options.saved_model_dir)
    if options.input_model and Path(options.input_model).is_dir():
        return Path(options.input_model)
    return None


def _load_saved_model(folder: Path, options: ConversionOptions) -> Graph:
    from .freeze import freeze_saved_model

    frozen = freeze_saved_model(folder, tags=options.saved_model_tags or None)
    graph_def = parse_graph_def(frozen.graph_def, False, f"{folder} (frozen)")
    if _ssd_requested(options):
        return _convert_ssd(graph_def, options)
    aliases = {tensor: name for name, tensor in frozen.outputs.items()}
    outputs = options.output or tuple(frozen.outputs.values())
    return translate(graph_def, options.replace(output=_node_outputs(outputs, frozen.outputs)),
                     output_aliases=aliases)


def _node_outputs(names, signature_outputs: dict[str, str]) -> tuple[str, ...]:
    """Output names as tensors of the frozen graph; a signature's output names are accepted."""
    return tuple(signature_outputs.get(name, name) for name in names)


def _load_checkpoint(options: ConversionOptions) -> Graph:
    from .freeze import freeze_checkpoint

    if not options.input_checkpoint:
        raise UserInputError("--input_meta_graph needs --input_checkpoint (the checkpoint "
                             "prefix, such as model.ckpt)")
    frozen = freeze_checkpoint(options.input_meta_graph, options.input_checkpoint,
                               list(options.output) or None)
    graph_def = parse_graph_def(frozen.graph_def, False, f"{options.input_meta_graph} (frozen)")
    return translate(graph_def, options.replace(output=tuple(frozen.outputs.values())))
