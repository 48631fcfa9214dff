"""The converter's three phases, in order: translate, transform, write.

`convert_model` is where every error of a conversion gets its full location: the model (its
input file), the stage (`frontend onnx|tf`, `pass NAME`, `writer`) and, where the inner layers
know it, the node. An exception that is not one of our own errors is a converter bug and leaves
as an InternalError; an OSError (a file that cannot be read or written, a full disk) is the
environment's and is raised as it is, so callers can read its errno.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from . import __version__
from .errors import attributed
from .options import ConversionOptions

log = logging.getLogger(__name__)


def model_name_for(options: ConversionOptions) -> str:
    if options.model_name:
        return options.model_name
    source = options.input_model or options.saved_model_dir or options.input_meta_graph or "model"
    return Path(source.rstrip(os.sep)).stem or "model"


def convert_model(options: ConversionOptions) -> Path:
    from . import extensions
    from .frontends import detect_framework, load
    from .ir.writer import write_ir
    from .passes import run_passes

    with attributed(model=options.model_label, doing="the conversion", passthrough=(OSError,)):
        for note in options.inert_flag_notes():
            log.warning(note)
        framework = detect_framework(options)
        if options.tensorboard_logdir:
            from .tensorboard import write_input_graph

            write_input_graph(options, framework)
        with extensions.activated(options.extensions) as user_passes:
            with attributed(stage=f"frontend {framework}", doing="reading the model",
                            passthrough=(OSError,)):
                started = time.perf_counter()
                graph = load(options, framework)
                _step(options, f"frontend {framework}", 0, graph, started)
            graph.name = model_name_for(options)
            if options.nhwc_to_nchw:
                from .model_inputs import declare_inputs_nchw

                declare_inputs_nchw(graph, options)
            run_passes(graph, options, user_passes)
        xml_path = Path(options.output_dir) / f"{graph.name}.xml"
        with attributed(stage="writer", doing="writing the IR", passthrough=(OSError,)):
            started = time.perf_counter()
            write_ir(graph, xml_path, rt_info=conversion_rt_info(options, framework))
            _step(options, "writer", len(graph.nodes()), graph, started)
    return xml_path


def _step(options: ConversionOptions, name: str, before: int, graph, started: float) -> None:
    """The `--steps` line of a phase that is not a pass (the frontend, the writer)."""
    nodes, seconds = len(graph.nodes()), time.perf_counter() - started
    text = f"{name}: {nodes} nodes, {seconds * 1000:.1f} ms" if before == 0 else \
        f"{name}: {nodes} nodes written, {seconds * 1000:.1f} ms"
    log.log(logging.INFO if options.steps else logging.DEBUG, "%s", text)


# Flags naming a file: the IR records the file's name, not where it lay, so that the same model
# converted from another folder (another checkout, another cache) gives the same bytes.
PATH_FLAGS = frozenset({"tensorflow_object_detection_api_pipeline_config", "transformations_config",
                        "input_checkpoint", "input_meta_graph", "saved_model_dir"})


CONVERTER_NAME = "modelzoo-ir converter"


def conversion_rt_info(options: ConversionOptions, framework: str | None = None) -> dict:
    """What the IR records of how it was made, as ovc does in `<rt_info>` (and mo did):
    `Runtime_version`'s counterpart `Converter_version` (our converter, its version and the IR
    version it writes; no OpenVINO took part) and `conversion_parameters`, the model as ovc
    records it (`DIR/` and its file name, so that the bytes do not depend on where it lay), the
    framework and every flag that differs from its default. Extensions are recorded by folder
    name and the digest of their code."""
    parameters = {key: _path_text(value) if key in PATH_FLAGS and isinstance(value, str)
                  else _flag_text(value) for key, value in options.canonical().items()}
    if options.extensions:
        parameters["extensions"] = ",".join(Path(f.rstrip(os.sep)).name for f in options.extensions)
    model = options.input_model or options.saved_model_dir or options.input_meta_graph
    if model:
        parameters["input_model"] = _path_text(model)
    if framework:
        parameters["framework"] = framework
    return {"Converter_version": f"{CONVERTER_NAME} {__version__} (IR v11)",
            "conversion_parameters": parameters}


def _path_text(value: str) -> str:
    """A path as ovc records it: `DIR/` and the file's name."""
    return f"DIR/{Path(value.rstrip(os.sep)).name}"


def _flag_text(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
