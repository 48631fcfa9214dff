"""ONNX op handlers, one per op type, in modules by family. Each handler reads its node
through an `OnnxNodeContext` and returns the OpenVINO output(s) of the node's outputs, in
order; `since` marks the opset from which a handler's reading of the op applies."""
from ...common import HandlerRegistry

registry = HandlerRegistry("ONNX")

# Importing the modules registers their handlers.
from . import (activation, conv, elementwise, linear, normalization,  # noqa: E402,F401
               pool, reduce, shape, tensor)
from . import activation_more, axis_activation, logical, numeric  # noqa: E402,F401
from . import cast, quantization, norms, arg_topk, cumulative, attention, einsum  # noqa: E402,F401
from . import gather_scatter, tensor_more, resize, loss, sampling, signal, nms  # noqa: E402,F401
from . import recurrent, training, ml, control_flow, sequence, optional  # noqa: E402,F401
from . import rotary, mixers, linear_attention  # noqa: E402,F401
from . import no_ir_form  # noqa: E402,F401
from . import random_ops  # noqa: E402,F401
