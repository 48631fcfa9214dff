"""`python -m converter`: the Model Optimizer's command line, on our converter.

A failed conversion prints one `[ ERROR ]` block, never a traceback (`--log_level DEBUG` adds
it), and exits 1 when the model or the flags are at fault, 2 for a converter bug.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time

from . import __version__
from .errors import ConversionError, InternalError, describe

SWITCHES = ["reverse_input_channels", "disable_fusing", "disable_gfusing", "input_model_is_text"]
# mo's switches that change nothing here; the conversion logs what happens instead
INERT_SWITCHES = ["progress", "stream_output", "static_shape", "keep_shape_ops",
                  "disable_resnet_optimization", "generate_deprecated_IR_V7", "steps"]
VALUED = ["framework", "input", "output", "input_shape", "batch", "mean_values", "scale_values",
          "scale", "data_type", "input_checkpoint", "input_meta_graph", "saved_model_dir",
          "saved_model_tags", "tensorflow_object_detection_api_pipeline_config",
          "transformations_config", "tensorflow_use_custom_operations_config"]
SHORT = {"input_model": ["-m", "-w"], "output_dir": ["-o"], "model_name": ["-n"], "batch": ["-b"],
         "scale": ["-s"], "mean_values": ["-ms"]}

EXIT_INPUT_ERROR = 1
EXIT_INTERNAL_ERROR = 2

log = logging.getLogger("converter")


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
    for flag in SWITCHES + INERT_SWITCHES:
        parser.add_argument(f"--{flag}", action="store_true", default=None)
    parser.add_argument("--compress_to_fp16", nargs="?", const="true", default=None,
                        metavar="True|False",
                        help="ovc's spelling of the precision: True means --data_type FP16, "
                             "False FP32")
    parser.add_argument("--log_level", default=None, type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                        help="DEBUG, INFO, WARNING, ERROR (default: the converter's warnings "
                             "and every error)")
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--version", action="version", version=f"converter {__version__}")
    return parser


def configure_logging(level: str | None) -> None:
    """Every library at ERROR and the converter's own notes at WARNING, unless a level is given."""
    logging.basicConfig(level=level or "ERROR", format="[ %(levelname)s ] %(message)s")
    if level is None:
        log.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    configure_logging(args.pop("log_level"))
    silent = args.pop("silent")
    start = time.perf_counter()
    try:
        xml_path = _convert(args)
    except Exception as exc:  # noqa: BLE001 (the one place every failure becomes a message)
        return report_failure(exc)
    if not silent:
        print(f"[ SUCCESS ] XML file: {xml_path}")
        print(f"[ SUCCESS ] BIN file: {xml_path.with_suffix('.bin')}")
        print(f"[ SUCCESS ] Total execution time: {time.perf_counter() - start:.2f} seconds.")
    return 0


def _convert(args: dict):
    from .options import ConversionOptions
    from .pipeline import convert_model

    return convert_model(ConversionOptions.from_flags(args))


def report_failure(exc: Exception) -> int:
    """Print `exc` as one [ ERROR ] block and return the exit code for its kind."""
    log.debug("the conversion failed", exc_info=exc)
    if isinstance(exc, ConversionError):
        print(f"[ ERROR ] {exc}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR if isinstance(exc, InternalError) else EXIT_INPUT_ERROR
    if isinstance(exc, OSError):
        print(f"[ ERROR ] {describe(exc)}; check the paths given and the free space",
              file=sys.stderr)
        return EXIT_INPUT_ERROR
    bug = InternalError(f"the converter raised {describe(exc)}")
    print(f"[ ERROR ] {bug}", file=sys.stderr)
    return EXIT_INTERNAL_ERROR
