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
    from .frontends import detect_framework, load
    from .ir.writer import write_ir
    from .passes import run_passes

    with attributed(model=options.model_label, doing="the conversion", passthrough=(OSError,)):
        for note in options.inert_flag_notes():
            log.warning(note)
        framework = detect_framework(options)
        with attributed(stage=f"frontend {framework}", doing="reading the model",
                        passthrough=(OSError,)):
            graph = load(options, framework)
        graph.name = model_name_for(options)
        run_passes(graph, options)
        xml_path = Path(options.output_dir) / f"{graph.name}.xml"
        with attributed(stage="writer", doing="writing the IR", passthrough=(OSError,)):
            write_ir(graph, xml_path, rt_info=conversion_rt_info(options))
    return xml_path


# Flags naming a file: the IR records the file's name, not where it lay, so that the same model
# converted from another folder (another checkout, another cache) gives the same bytes.
PATH_FLAGS = frozenset({"tensorflow_object_detection_api_pipeline_config", "transformations_config",
                        "input_checkpoint", "input_meta_graph", "saved_model_dir"})


def conversion_rt_info(options: ConversionOptions) -> dict:
    """What the IR records of how it was made, as the Model Optimizer did in `<rt_info>`."""
    parameters = {key: Path(value).name if key in PATH_FLAGS and isinstance(value, str)
                  else _flag_text(value) for key, value in options.canonical().items()}
    info = {"converter_version": __version__}
    if parameters:
        info["conversion_parameters"] = parameters
    return info


def _flag_text(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
