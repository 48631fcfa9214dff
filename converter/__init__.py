"""Our own Model Optimizer: ONNX and TensorFlow models in, OpenVINO IR v11 out, no OpenVINO needed.

    from converter import convert
    xml_path = convert("model.onnx", output_dir="ir", model_name="net", input_shape="[1,3,224,224]")

The flags are the Model Optimizer's (see `converter.options`). Phases: a frontend translates the
model into a graph of OpenVINO ops, passes transform it, the IR writer writes it.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import ConversionError, InternalError, UnsupportedOpsError, UserInputError  # noqa: E402,F401


def convert(input_model=None, output_dir=".", model_name=None, **flags):
    """Convert one model and return the path of the IR's .xml (the .bin lies beside it)."""
    from .pipeline import convert_model
    from .options import ConversionOptions

    options = ConversionOptions.from_flags(
        {"input_model": None if input_model is None else str(input_model),
         "output_dir": str(output_dir), "model_name": model_name, **flags})
    return convert_model(options)
