"""The TensorFlow frontend: a frozen GraphDef, a SavedModel or a checkpoint in, a Graph out.

A frozen GraphDef (binary .pb or text .pbtxt) is read with protobuf message classes built
at runtime (`proto.py`), so converting one never imports TensorFlow. A SavedModel
(`saved_model.py`) or a TF1 checkpoint with its meta graph (`checkpoint.py`) is frozen by our
own readers (function calls inlined by `functions.py`, variables read from the tensor bundle);
only what they cannot handle goes through TensorFlow (`freeze.py`), with a warning in the log.
Model inputs and outputs keep TensorFlow's NHWC layout; handlers wrap NCHW-only OpenVINO
ops in Transposes that the transpose-sinking pass cancels between neighbours.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ...errors import UserInputError
from ...graph import Graph
from ...options import ConversionOptions
from .graph_def import parse_graph_def, read_graph_def
from .translate import translate

__all__ = ["load"]

log = logging.getLogger(__name__)


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
    _inline_function_calls(graph_def)
    _merge_partitioned_lookups(graph_def, str(options.input_model), options.output)
    if _ssd_requested(options):
        return _convert_ssd(graph_def, options)
    try:
        return translate(graph_def, options)
    except UserInputError as exc:  # unsupported ops, or the export's loops over the batch
        if _looks_like_object_detection_api(graph_def):
            raise UserInputError(f"{exc}\nThis graph is a TF Object Detection API export: give "
                                 f"its pipeline.config with --tensorflow_object_detection_api_"
                                 f"pipeline_config, and its loops are cut and replaced") from exc
        raise


def _inline_function_calls(graph_def) -> None:
    """Calls into the graph's function library (Keras 3 writes e.g. grouped convolutions as
    StatefulPartitionedCall) are replaced by the functions' bodies; While and If keep theirs."""
    from .functions import function_library, inline_calls

    if function_library(graph_def):
        count = inline_calls(graph_def)
        if count:
            log.info("inlined %d function call(s) of the frozen graph", count)


def _merge_partitioned_lookups(graph_def, where: str, outputs) -> None:
    """Lookups into a partitioned embedding table that was frozen (DynamicPartition, a Gather
    per part, ParallelDynamicStitch) become one Gather of the whole table, as the SavedModel
    and checkpoint readers do: the partition ops have no handler. What only the old lookup
    read is dropped, all that the graph's sinks and the `outputs` asked for kept."""
    from .checkpoint import UnsupportedCheckpoint, merge_partitioned_lookups
    from .graph_def import find_sinks, split_tensor_name

    roots = find_sinks(graph_def.node) + [split_tensor_name(name)[0] for name in outputs]
    try:
        count = merge_partitioned_lookups(graph_def, where)
    except UnsupportedCheckpoint as exc:
        raise UserInputError(f"{exc}; a lookup into a partitioned table converts only when "
                             f"the ops routing each id to its part depend on the id alone "
                             f"(as tf.nn.embedding_lookup's 'mod' and 'div' strategies do)"
                             ) from None
    if count:
        _drop_nodes_outside(graph_def, roots)
        log.info("merged %d lookup(s) into partitioned tables into one Gather each", count)


def _drop_nodes_outside(graph_def, roots: list[str]) -> None:
    """Drop, in place, the nodes that `roots` do not depend on (the partitioning and per-part
    Gathers a merged lookup left behind, which would otherwise be taken for outputs)."""
    from .graph_def import input_node_name

    nodes = {node.name: node for node in graph_def.node}
    needed, stack = set(), [name for name in roots if name in nodes]
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(input_node_name(ref) for ref in nodes[name].input
                         if input_node_name(ref) in nodes)
    for index in reversed(range(len(graph_def.node))):
        if graph_def.node[index].name not in needed:
            del graph_def.node[index]


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
    frozen = _read_saved_model(folder, options)
    graph_def = frozen.graph_def
    if _ssd_requested(options):
        return _convert_ssd(graph_def, options)
    aliases = {tensor: name for name, tensor in frozen.outputs.items()}
    outputs = options.output or tuple(frozen.outputs.values())
    return translate(graph_def, options.replace(output=_node_outputs(outputs, frozen.outputs)),
                     output_aliases=aliases)


def _read_saved_model(folder: Path, options: ConversionOptions):
    """The SavedModel frozen by our reader; through TensorFlow when the reader cannot (said
    in the log), as a FrozenGraph-like object with a parsed `graph_def`."""
    from .checkpoint import UnsupportedCheckpoint
    from .saved_model import SavedModelGraph, read_saved_model

    tags = options.saved_model_tags or None
    try:
        return read_saved_model(folder, tags=tags)
    except UnsupportedCheckpoint as exc:
        log.warning("%s; freezing it through TensorFlow instead", exc)
    from .freeze import freeze_saved_model

    frozen = freeze_saved_model(folder, tags=tags)
    graph_def = parse_graph_def(frozen.graph_def, False, f"{folder} (frozen)")
    return SavedModelGraph(graph_def, dict(frozen.inputs), dict(frozen.outputs))


def _node_outputs(names, signature_outputs: dict[str, str]) -> tuple[str, ...]:
    """Output names as tensors of the frozen graph; a signature's output names are accepted."""
    return tuple(signature_outputs.get(name, name) for name in names)


def _load_checkpoint(options: ConversionOptions) -> Graph:
    from .checkpoint import UnsupportedCheckpoint, freeze_checkpoint_graph

    if not options.input_checkpoint:
        raise UserInputError("--input_meta_graph needs --input_checkpoint (the checkpoint "
                             "prefix, such as model.ckpt)")
    outputs = list(options.output) or None
    try:
        graph_def, _, tensors = freeze_checkpoint_graph(options.input_meta_graph,
                                                        options.input_checkpoint, outputs)
    except UnsupportedCheckpoint as exc:
        log.warning("%s; freezing it through TensorFlow instead", exc)
        from .freeze import freeze_checkpoint

        frozen = freeze_checkpoint(options.input_meta_graph, options.input_checkpoint, outputs)
        graph_def = parse_graph_def(frozen.graph_def, False,
                                    f"{options.input_meta_graph} (frozen)")
        tensors = frozen.outputs
    return translate(graph_def, options.replace(output=tuple(tensors.values())))
