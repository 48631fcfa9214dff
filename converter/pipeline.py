"""The converter's three phases, in order: translate, transform, write."""
from __future__ import annotations

import os
from pathlib import Path

from . import __version__
from .options import ConversionOptions


def model_name_for(options: ConversionOptions) -> str:
    if options.model_name:
        return options.model_name
    source = options.input_model or options.saved_model_dir or options.input_meta_graph or "model"
    return Path(source.rstrip(os.sep)).stem or "model"


def convert_model(options: ConversionOptions) -> Path:
    from .frontends import load
    from .ir.writer import write_ir
    from .passes import run_passes

    graph = load(options)
    graph.name = model_name_for(options)
    run_passes(graph, options)
    xml_path = Path(options.output_dir) / f"{graph.name}.xml"
    write_ir(graph, xml_path, rt_info=conversion_rt_info(options))
    return xml_path


def conversion_rt_info(options: ConversionOptions) -> dict:
    """What the IR records of how it was made, as the Model Optimizer did in `<rt_info>`."""
    parameters = {key: _flag_text(value) for key, value in options.canonical().items()}
    info = {"converter_version": __version__}
    if parameters:
        info["conversion_parameters"] = parameters
    return info


def _flag_text(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
