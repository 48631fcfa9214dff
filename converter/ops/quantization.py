"""Quantization ops. None is needed so far: ONNX's quantize, dequantize and quantized products
decompose into Convert, arithmetic, Round and Clamp (see the ONNX handlers in
`frontends/onnx/handlers/quantization.py`), which keeps scales and zero points run-time
inputs, where OpenVINO's FakeQuantize would want ranges."""
from . import OpSpec, register  # noqa: F401
