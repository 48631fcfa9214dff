"""`python -m converter`: the Model Optimizer's command line, on our converter."""
from __future__ import annotations

import argparse
import sys
import time

from . import __version__
from .errors import ConversionError, InternalError

SWITCHES = ["reverse_input_channels", "disable_fusing", "disable_gfusing", "input_model_is_text"]
VALUED = ["framework", "input", "output", "input_shape", "batch", "mean_values", "scale_values",
          "scale", "data_type", "input_checkpoint", "input_meta_graph", "saved_model_dir",
          "saved_model_tags", "tensorflow_object_detection_api_pipeline_config"]
SHORT = {"input_model": ["-m", "-w"], "output_dir": ["-o"], "model_name": ["-n"], "batch": ["-b"],
         "scale": ["-s"], "mean_values": ["-ms"]}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m converter",
        description="Convert an ONNX or TensorFlow model to OpenVINO IR v11 (.xml + .bin). "
                    "Flags follow the Model Optimizer (mo.py).")
    parser.add_argument("--input_model", *SHORT["input_model"], help="the model file or folder")
    parser.add_argument("--output_dir", *SHORT["output_dir"], default=".", help="where the IR goes")
    parser.add_argument("--model_name", *SHORT["model_name"], help="IR file and network name")
    for flag in VALUED:
        parser.add_argument(f"--{flag}", *SHORT.get(flag, []))
    for flag in SWITCHES:
        parser.add_argument(f"--{flag}", action="store_true", default=None)
    parser.add_argument("--log_level", default="ERROR")
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--version", action="version", version=f"converter {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    import logging

    logging.basicConfig(level=args.pop("log_level").upper(), format="[ %(levelname)s ] %(message)s")
    silent = args.pop("silent")
    from .options import ConversionOptions
    from .pipeline import convert_model

    start = time.perf_counter()
    try:
        xml_path = convert_model(ConversionOptions.from_flags(args))
    except InternalError as exc:
        print(f"[ ERROR ] internal converter error (please report it): {exc}", file=sys.stderr)
        return 2
    except ConversionError as exc:
        print(f"[ ERROR ] {exc}", file=sys.stderr)
        return 1
    if not silent:
        print(f"[ SUCCESS ] XML file: {xml_path}")
        print(f"[ SUCCESS ] BIN file: {xml_path.with_suffix('.bin')}")
        print(f"[ SUCCESS ] Total execution time: {time.perf_counter() - start:.2f} seconds.")
    return 0
