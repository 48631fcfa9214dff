"""--tensorboard_logdir DIR: the TensorFlow input graph, written for TensorBoard.

As the Model Optimizer did, the graph the conversion starts from (a frozen GraphDef as it is in
its file; for a SavedModel or a meta graph, the graph its MetaGraphDef holds, before freezing)
is written to DIR as an events file (`events.out.tfevents.*`) that `tensorboard --logdir DIR`
shows under "Graphs". This imports TensorFlow, and only when the flag is given.
"""
from __future__ import annotations

import logging
from pathlib import Path

from .errors import UserInputError
from .options import ConversionOptions

log = logging.getLogger(__name__)


def write_input_graph(options: ConversionOptions, framework: str) -> Path | None:
    """Write the input graph to options.tensorboard_logdir; return the events file written."""
    if framework != "tf":
        log.warning("tensorboard_logdir: only a TensorFlow model's graph is written for "
                    "TensorBoard; nothing is written for a %s model", framework)
        return None
    import tensorflow as tf

    graph_def = _input_graph_def(options)
    folder = Path(options.tensorboard_logdir)
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.glob("events.out.tfevents.*"))
    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        tf.summary.graph(graph_def)
    writer.close()
    written = sorted(set(folder.glob("events.out.tfevents.*")) - before)
    log.info("tensorboard_logdir: the input graph (%d nodes) is in %s", len(graph_def.node),
             written[-1] if written else folder)
    return written[-1] if written else None


def _input_graph_def(options: ConversionOptions):
    from google.protobuf import text_format
    from tensorflow.core.framework import graph_pb2
    from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

    model = options.saved_model_dir or options.input_model
    if model and Path(model).is_dir():
        saved = saved_model_pb2.SavedModel.FromString((Path(model) / "saved_model.pb").read_bytes())
        return _tagged(saved.meta_graphs, options.saved_model_tags, model).graph_def
    if options.input_meta_graph:
        meta = meta_graph_pb2.MetaGraphDef()
        data = Path(options.input_meta_graph).read_bytes()
        meta.ParseFromString(data)
        return meta.graph_def
    if not model:
        raise UserInputError("--tensorboard_logdir: no TensorFlow model given")
    graph_def = graph_pb2.GraphDef()
    if options.input_model_is_text:
        text_format.Parse(Path(model).read_text(), graph_def)
    else:
        graph_def.ParseFromString(Path(model).read_bytes())
    return graph_def


def _tagged(meta_graphs, tags, folder):
    """The meta graph with the given tags (or the first one, when no tags are given)."""
    for meta in meta_graphs:
        if not tags or set(tags) == set(meta.meta_info_def.tags):
            return meta
    raise UserInputError(f"--tensorboard_logdir: {folder} has no meta graph tagged "
                         f"{', '.join(tags)}")
