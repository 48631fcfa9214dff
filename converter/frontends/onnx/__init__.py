"""The ONNX frontend: `load(options)` reads an .onnx file and translates it into a Graph.

Initializers and Constant nodes become Const; every other node goes through the handler
registered for its op type and the model's default-domain opset (see `handlers`).
"""
from __future__ import annotations

from ...graph import Graph
from ...options import ConversionOptions
from .model import default_opset, read_model
from .translator import OnnxTranslator


def load(options: ConversionOptions) -> Graph:
    model = read_model(options.input_model)
    opset = default_opset(model, options.input_model)
    return OnnxTranslator(model, opset, options).run()
