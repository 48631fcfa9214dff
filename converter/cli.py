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

SWITCHES = ["reverse_input_channels", "disable_fusing", "disable_gfusing", "input_model_is_text",
            "steps", "nhwc_to_nchw", "disable_nhwc_to_nchw"]
# mo's switches that change nothing here; the conversion logs what happens instead
INERT_SWITCHES = ["progress", "stream_output", "static_shape", "keep_shape_ops",
                  "disable_resnet_optimization", "generate_deprecated_IR_V7",
                  "generate_deprecated_IR_V2", "move_to_preprocess",
                  "offload_unsupported_operations_to_tf"]
VALUED = ["framework", "input", "output", "input_shape", "batch", "mean_values", "scale_values",
          "scale", "data_type", "input_checkpoint", "input_meta_graph", "saved_model_dir",
          "saved_model_tags", "tensorflow_object_detection_api_pipeline_config",
          "transformations_config", "tensorflow_use_custom_operations_config",
          "freeze_placeholder_with_value", "finegrain_fusing", "extensions", "tensorboard_logdir",
          # inert: accepted, refused with what to do instead
          "tensorflow_subgraph_patterns", "tensorflow_operation_patterns",
          "tensorflow_custom_layer_libraries", "tensorflow_custom_operations_config_update"]
SHORT = {"input_model": ["-m", "-w"], "output_dir": ["-o"], "model_name": ["-n"], "batch": ["-b"],
         "scale": ["-s"], "mean_values": ["-ms"]}

HELP = {
    "freeze_placeholder_with_value": "inputs made constants: \"name->value,other->[1 2]\"",
    "finegrain_fusing": "regular expressions (comma-separated) of node names the fusing "
                        "passes leave unfused",
    "extensions": "folders (comma-separated) of Python files defining passes or op handlers "
                  "(see converter/extensions.py)",
    "tensorboard_logdir": "write the TensorFlow input graph there for TensorBoard",
    "steps": "print each pass with the node count before and after and its time",
    "nhwc_to_nchw": "TensorFlow: declare 4-D inputs NCHW, as the Model Optimizer did",
    "disable_nhwc_to_nchw": "TensorFlow: keep inputs NHWC (the default here, as ovc does)",
    "input": "inputs with shapes and frozen values: \"x[1 3 224 224],flag->[1]\"; TensorFlow "
             "names as name, name:0 or port:name",
}

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
        parser.add_argument(f"--{flag}", *SHORT.get(flag, []), help=HELP.get(flag))
    for flag in SWITCHES + INERT_SWITCHES:
        parser.add_argument(f"--{flag}", action="store_true", default=None, help=HELP.get(flag))
    parser.add_argument("--compress_to_fp16", nargs="?", const="true", default=None,
                        metavar="True|False",
                        help="ovc's spelling of the precision: True means --data_type FP16, "
                             "False FP32")
    parser.add_argument("--log_level", default=None, type=_log_level, choices=LOG_LEVELS,
                        help="CRITICAL, ERROR, WARN(ING), INFO, DEBUG, NOTSET (default: the "
                             "converter's warnings and every error)")
    parser.add_argument("--silent", action="store_true",
                        help="print nothing but errors (unless --log_level or --steps asks "
                             "for more)")
    parser.add_argument("--version", action="version", version=version_text())
    return parser


LOG_LEVELS = ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"]
# Where the --steps lines come from: the pass runner and the phases around it.
STEP_LOGGERS = ("converter.passes", "converter.pipeline")


def _log_level(text: str) -> str:
    level = text.upper()
    return "WARNING" if level == "WARN" else level


def version_text() -> str:
    return f"modelzoo-ir converter {__version__} (writes OpenVINO IR v11; needs no OpenVINO)"


def configure_logging(level: str | None, silent: bool = False, steps: bool = False) -> None:
    """Every library at ERROR and the converter's own notes at WARNING, unless a level is given
    (--silent: errors only). --steps shows the steps' lines whatever the level."""
    logging.basicConfig(level=level or "ERROR", format="[ %(levelname)s ] %(message)s")
    if level is None:
        log.setLevel(logging.ERROR if silent else logging.WARNING)
    if steps:
        for name in STEP_LOGGERS:
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    silent = args.pop("silent")
    configure_logging(args.pop("log_level"), silent, bool(args.get("steps")))
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
