"""Recurrent layers: LSTM, GRU and RNN.

Each becomes OpenVINO's LSTMSequence / GRUSequence / RNNSequence (opset5) when that op can
express it: ONNX's time-major layout (0) or batch-major one (1) is transposed to the op's
[batch, seq, ...] and back, LSTM's gates reordered (ONNX i, o, f, c; OpenVINO f, i, c, o), the
two ONNX biases (input and recurrent) summed (GRU with linear_before_reset keeps the recurrent
one of the h gate apart), and missing inputs (B, sequence_lens, initial states) made zeros or
full lengths. What the sequence ops cannot express (LSTM peepholes, input_forget, activations
other than Sigmoid/Tanh/Relu, directions with different activations) is unrolled over the time
steps instead, which needs a static sequence length: see `Unrolled`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ....element_types import to_numpy
from ....graph import Output
from ...builders.elementwise import binary, select
from ..context import OnnxNodeContext
from . import registry
from ._util import i64

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DEFAULT_ACTIVATIONS = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh"),
                       "RNN": ("Tanh",)}
SEQUENCE_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Relu": "relu"}
# Per activation: the (alpha, beta) defaults ONNX gives it.
ACTIVATION_DEFAULTS = {"Relu": (None, None), "Tanh": (None, None), "Sigmoid": (None, None),
                       "Affine": (1.0, 0.0), "LeakyRelu": (0.01, None),
                       "ThresholdedRelu": (1.0, None), "ScaledTanh": (1.0, 1.0),
                       "HardSigmoid": (0.2, 0.5), "Elu": (1.0, None), "Softsign": (None, None),
                       "Softplus": (None, None)}
# The unrolled cells' activations that are one OpenVINO op without parameters.
PLAIN_ACTIVATIONS = {"Relu": "ReLU", "Tanh": "Tanh", "Sigmoid": "Sigmoid",
                     "Softsign": "SoftSign", "Softplus": "SoftPlus"}
LSTM_TO_OPENVINO_GATES = (2, 0, 3, 1)  # OpenVINO's f, i, c, o taken from ONNX's i, o, f, c
STATE_NAMES = ("Y_h", "Y_c")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class Activation:
    name: str
    alpha: float | None
    beta: float | None


@dataclass
class Layer:
    """An ONNX recurrent node decoded: its kind, attributes and inputs in OpenVINO's
    batch-major layout (X [batch, seq, input], states [batch, directions, hidden])."""

    ctx: OnnxNodeContext
    kind: str
    direction: str
    hidden: int
    layout: int
    clip: float | None
    activations: list[Activation]  # per direction, the cell's functions in ONNX order

    @property
    def directions(self) -> int:
        return 2 if self.direction == "bidirectional" else 1

    @property
    def per_direction(self) -> int:
        return len(DEFAULT_ACTIVATIONS[self.kind])

    def functions(self, direction: int) -> list[Activation]:
        return self.activations[direction * self.per_direction:(direction + 1) * self.per_direction]


# -- decoding ---------------------------------------------------------------------------------
def _activations(ctx: OnnxNodeContext, kind: str, directions: int) -> list[Activation]:
    """The activations of every direction, with their alpha and beta (ONNX lists alphas and
    betas only for the activations that take them, in order)."""
    names = ctx.attr("activations")
    if names is None:
        names = list(DEFAULT_ACTIVATIONS[kind]) * directions
    names = [_text(n) for n in names]
    per_direction = len(DEFAULT_ACTIVATIONS[kind])
    if len(names) == per_direction and directions == 2:
        names = names * 2
    if len(names) != per_direction * directions:
        raise ctx.error(f"gives {len(names)} activations; {kind} needs {per_direction} per "
                        f"direction ({per_direction * directions})")
    alphas = list(ctx.attr("activation_alpha", []) or [])
    betas = list(ctx.attr("activation_beta", []) or [])
    found = []
    for name in names:
        canonical = next((known for known in ACTIVATION_DEFAULTS if known.lower() == name.lower()),
                         None)
        if canonical is None:
            raise ctx.error(f"activation {name!r} is not one of {', '.join(ACTIVATION_DEFAULTS)}")
        alpha, beta = ACTIVATION_DEFAULTS[canonical]
        if alpha is not None and alphas:
            alpha = float(alphas.pop(0))
        if beta is not None and betas:
            beta = float(betas.pop(0))
        found.append(Activation(canonical, alpha, beta))
    return found


def _layer(ctx: OnnxNodeContext, kind: str) -> Layer:
    direction = _text(ctx.attr("direction", "forward"))
    if direction not in ("forward", "reverse", "bidirectional"):
        raise ctx.error(f"direction {direction!r} is not forward, reverse or bidirectional")
    directions = 2 if direction == "bidirectional" else 1
    hidden = ctx.attr("hidden_size")
    if hidden is None:
        recurrence = ctx.input(2).shape
        if recurrence is None or recurrence[-1] == -1:
            raise ctx.error("has no hidden_size and its R has no static shape to read it from")
        hidden = recurrence[-1]
    clip = ctx.attr("clip")
    return Layer(ctx, kind, direction, int(hidden), int(ctx.attr("layout", 0)),
                 None if clip is None else float(clip), _activations(ctx, kind, directions))


def _dtype(data: Output) -> np.dtype:
    return np.dtype(to_numpy(data.element_type or "f32"))


def _batch_major(layer: Layer, data: Output, suffix: str) -> Output:
    """A time-major (layout 0) tensor [a, b, ...] as [b, a, ...]; batch-major ones as they are."""
    if layer.layout == 1:
        return data
    return layer.ctx.helper("Transpose", data, i64(layer.ctx, [1, 0, 2]), suffix=suffix)


def _batch_size(layer: Layer, x: Output) -> Output:
    """The batch size of X [batch, seq, input] as a [1] i64 tensor."""
    ctx = layer.ctx
    if x.shape is not None and x.shape[0] != -1:
        return i64(ctx, [x.shape[0]])
    dims = ctx.helper("ShapeOf", x, suffix="x_shape", output_type="i64")
    return ctx.helper("Gather", dims, i64(ctx, [0]), ctx.const(np.array(0, np.int64)),
                      suffix="batch", batch_dims=0)


def _initial_state(layer: Layer, x: Output, index: int, suffix: str) -> Output:
    """Input `index` (initial_h or initial_c) as [batch, directions, hidden], or zeros."""
    ctx = layer.ctx
    if ctx.has_input(index):
        return _batch_major(layer, ctx.input(index), suffix)
    if x.shape is not None and x.shape[0] != -1:
        return ctx.graph.const(np.zeros((x.shape[0], layer.directions, layer.hidden), _dtype(x)),
                               name=f"{ctx.name}/{suffix}")
    shape = ctx.helper("Concat", _batch_size(layer, x), i64(ctx, [layer.directions, layer.hidden]),
                       suffix=f"{suffix}/shape", axis=0)
    return ctx.helper("Broadcast", ctx.scalar(0, x), shape, suffix=suffix, mode="numpy")


def _sequence_lengths(layer: Layer, x: Output) -> Output:
    """sequence_lens as i64 [batch], or every sequence as long as X's time axis."""
    ctx = layer.ctx
    if ctx.has_input(4):
        lengths = ctx.input(4)
        if lengths.element_type == "i64":
            return lengths
        return ctx.helper("Convert", lengths, suffix="sequence_lens", destination_type="i64")
    if x.shape is not None and -1 not in x.shape[:2]:
        return ctx.graph.const(np.full(x.shape[0], x.shape[1], np.int64),
                               name=f"{ctx.name}/sequence_lens")
    dims = ctx.helper("ShapeOf", x, suffix="x_shape", output_type="i64")
    steps = ctx.helper("Gather", dims, ctx.const(np.array(1, np.int64)),
                       ctx.const(np.array(0, np.int64)), suffix="steps", batch_dims=0)
    return ctx.helper("Broadcast", steps, _batch_size(layer, x), suffix="sequence_lens",
                      mode="numpy")


def _split(ctx: OnnxNodeContext, data: Output, parts: int, axis: int, suffix: str) -> list[Output]:
    node = ctx.graph.add("Split", [data, ctx.const(np.array(axis, np.int64))],
                         {"num_splits": parts}, name=f"{ctx.name}/{suffix}", num_outputs=parts)
    return [node.output(i) for i in range(parts)]


def _reordered(layer: Layer, weights: Output, suffix: str) -> Output:
    """LSTM weights [directions, 4 * hidden, ...] with the gates in OpenVINO's order."""
    if layer.kind != "LSTM":
        return weights
    parts = _split(layer.ctx, weights, 4, 1, f"{suffix}/gates")
    return layer.ctx.helper("Concat", *(parts[i] for i in LSTM_TO_OPENVINO_GATES),
                            suffix=suffix, axis=1)


def _biases(layer: Layer, like: Output) -> tuple[Output, Output]:
    """The input and recurrent biases (Wb, Rb), each [directions, gates * hidden]."""
    ctx = layer.ctx
    size = GATES[layer.kind] * layer.hidden
    if not ctx.has_input(3):
        zeros = ctx.graph.const(np.zeros((layer.directions, size), _dtype(like)),
                                name=f"{ctx.name}/B")
        return zeros, zeros
    wb, rb = _split(ctx, ctx.input(3), 2, 1, "B")
    return wb, rb


def _sequence_bias(layer: Layer, like: Output) -> Output:
    """B as the sequence op reads it: Wb + Rb; GRU with linear_before_reset keeps the h gate's
    Rb apart: [Wb_z + Rb_z, Wb_r + Rb_r, Wb_h, Rb_h]."""
    ctx = layer.ctx
    wb, rb = _biases(layer, like)
    if layer.kind == "GRU" and ctx.attr("linear_before_reset", 0):
        w_parts, r_parts = _split(ctx, wb, 3, 1, "Wb"), _split(ctx, rb, 3, 1, "Rb")
        zr = binary(ctx.graph, "Add", ctx.helper("Concat", *w_parts[:2], suffix="Wb_zr", axis=1),
                    ctx.helper("Concat", *r_parts[:2], suffix="Rb_zr", axis=1),
                    name=f"{ctx.name}/B_zr")
        return ctx.helper("Concat", zr, w_parts[2], r_parts[2], suffix="B_sum", axis=1)
    return _reordered(layer, binary(ctx.graph, "Add", wb, rb, name=f"{ctx.name}/B_sum"), "B_gates")


def _onnx_outputs(layer: Layer, y: Output, states: list[Output]) -> list[Output]:
    """Y [batch, directions, seq, hidden] and the states [batch, directions, hidden] in the
    node's layout: Y [seq, directions, batch, hidden] or [batch, seq, directions, hidden]."""
    ctx = layer.ctx
    y_order = [2, 1, 0, 3] if layer.layout == 0 else [0, 2, 1, 3]
    outputs = [ctx.helper("Transpose", y, i64(ctx, y_order), suffix="Y")]
    for state, name in zip(states, STATE_NAMES):
        if layer.layout == 0:
            state = ctx.helper("Transpose", state, i64(ctx, [1, 0, 2]), suffix=name)
        outputs.append(state)
    return outputs


# -- when the sequence ops fit --------------------------------------------------------------
def _unexpressible(layer: Layer) -> str | None:
    """Why OpenVINO's sequence op cannot compute `layer`, or None when it can."""
    ctx = layer.ctx
    if layer.kind == "LSTM" and ctx.has_input(7):
        peepholes = ctx.const_value(7)
        if peepholes is None or np.any(peepholes):
            return "it has peepholes"
    if layer.kind == "LSTM" and ctx.attr("input_forget", 0):
        return "input_forget couples its input and forget gates"
    names = [a.name for a in layer.activations]
    if any(name not in SEQUENCE_ACTIVATIONS for name in names):
        return f"its activations {names} are not all Sigmoid, Tanh or Relu"
    if layer.directions == 2 and layer.functions(0) != layer.functions(1):
        return "its directions have different activations"
    return None


def _sequence_op(layer: Layer) -> list[Output]:
    ctx = layer.ctx
    x = _batch_major(layer, ctx.input(0), "X")
    inputs = [x, _initial_state(layer, x, 5, "initial_h")]
    if layer.kind == "LSTM":
        inputs.append(_initial_state(layer, x, 6, "initial_c"))
    inputs += [_sequence_lengths(layer, x), _reordered(layer, ctx.input(1), "W"),
               _reordered(layer, ctx.input(2), "R"), _sequence_bias(layer, x)]
    attrs = {"direction": layer.direction, "hidden_size": layer.hidden,
             "activations": [SEQUENCE_ACTIVATIONS[a.name] for a in layer.functions(0)],
             "activations_alpha": [], "activations_beta": [],
             "clip": 0.0 if layer.clip is None else layer.clip}
    if layer.kind == "GRU":
        attrs["linear_before_reset"] = bool(ctx.attr("linear_before_reset", 0))
    states = 2 if layer.kind == "LSTM" else 1
    node = ctx.graph.add(f"{layer.kind}Sequence", inputs, attrs, name=ctx.name,
                         num_outputs=1 + states)
    return _onnx_outputs(layer, node.output(0), [node.output(i) for i in range(1, 1 + states)])


def _recurrent(ctx: OnnxNodeContext, kind: str) -> list[Output]:
    layer = _layer(ctx, kind)
    reason = _unexpressible(layer)
    if reason is None:
        return _sequence_op(layer)
    return Unrolled(layer, reason).outputs()


@registry.register("LSTM")
def lstm(ctx: OnnxNodeContext) -> list[Output]:
    return _recurrent(ctx, "LSTM")


@registry.register("GRU")
def gru(ctx: OnnxNodeContext) -> list[Output]:
    return _recurrent(ctx, "GRU")


@registry.register("RNN")
def rnn(ctx: OnnxNodeContext) -> list[Output]:
    return _recurrent(ctx, "RNN")


# -- unrolled over time ----------------------------------------------------------------------
class Unrolled:
    """The layer computed step by step, as ONNX's equations define each cell, for a static
    number of time steps: per direction the weights are split per gate once, then each step
    multiplies the step's input and the running state, masked by sequence_lens (a finished
    sequence keeps its state and outputs zeros)."""

    def __init__(self, layer: Layer, reason: str):
        self.layer, self.ctx = layer, layer.ctx
        self.x = _batch_major(layer, self.ctx.input(0), "X")
        if self.x.shape is None or self.x.shape[1] == -1:
            raise self.ctx.error(f"needs a static sequence length: OpenVINO's {layer.kind}Sequence "
                                 f"cannot compute it ({reason}), so it is unrolled over time")
        self.steps = self.x.shape[1]
        self.lengths = _sequence_lengths(layer, self.x)
        self.count = 0

    # small op helpers, each named `<node>/unrolled/<step>`
    def name(self, what: str) -> str:
        self.count += 1
        return f"{self.ctx.name}/unrolled/{what}_{self.count}"

    def op(self, op: str, *inputs: Output, what: str = "", **attrs) -> Output:
        return self.ctx.graph.op(op, *inputs, name=self.name(what or op), **attrs)

    def binary(self, op: str, a: Output, b: Output) -> Output:
        return binary(self.ctx.graph, op, a, b, name=self.name(op))

    def scalar(self, value: float) -> Output:
        return self.ctx.scalar(value, self.x)

    def take(self, data: Output, index: int, axis: int) -> Output:
        """data[index] along `axis`, that axis removed."""
        return self.op("Gather", data, self.ctx.const(np.array(index, np.int64)),
                       self.ctx.const(np.array(axis, np.int64)), what="take", batch_dims=0)

    def linear(self, data: Output, weights: Output) -> Output:
        """data [batch, k] times weights [hidden, k] transposed."""
        return self.op("MatMul", data, weights, transpose_a=False, transpose_b=True)

    # the cell functions
    def activate(self, fn: Activation, data: Output, clip: bool = True) -> Output:
        """`fn` of `data`; the gates' inputs are clipped first (not the cell state's)."""
        if clip and self.layer.clip is not None:
            data = self.op("Clamp", data, min=-self.layer.clip, max=self.layer.clip)
        a = None if fn.alpha is None else self.scalar(fn.alpha)
        b = None if fn.beta is None else self.scalar(fn.beta)
        if fn.name in PLAIN_ACTIVATIONS:
            return self.op(PLAIN_ACTIVATIONS[fn.name], data)
        if fn.name == "Affine":
            return self.binary("Add", self.binary("Multiply", data, a), b)
        if fn.name == "LeakyRelu":
            return self.op("PRelu", data, a)
        if fn.name == "ThresholdedRelu":
            return select(self.ctx.graph, self.binary("Greater", data, a), data, self.scalar(0),
                          name=self.name("thresholded"))
        if fn.name == "ScaledTanh":
            return self.binary("Multiply", self.op("Tanh", self.binary("Multiply", data, b)), a)
        if fn.name == "HardSigmoid":
            return self.op("HardSigmoid", data, a, b)
        return self.op("Elu", data, alpha=fn.alpha)  # Elu

    def per_gate(self, data: Output | None, direction: int, what: str) -> list[Output | None]:
        """[directions, gates * hidden, ...] -> the direction's gates, each [hidden, ...]."""
        if data is None:
            return [None] * GATES[self.layer.kind]
        one = self.take(data, direction, 0)
        if GATES[self.layer.kind] == 1:
            return [one]
        return _split(self.ctx, one, GATES[self.layer.kind], 0, f"unrolled/{what}{direction}")

    def outputs(self) -> list[Output]:
        layer, ctx = self.layer, self.ctx
        h0 = _initial_state(layer, self.x, 5, "initial_h")
        c0 = _initial_state(layer, self.x, 6, "initial_c") if layer.kind == "LSTM" else None
        wb, rb = _biases(layer, self.x)
        peepholes = ctx.input(7) if layer.kind == "LSTM" and ctx.has_input(7) else None
        ys, states = [], []
        for d in range(layer.directions):
            reverse = layer.direction == "reverse" or d == 1
            y, last = self.direction(d, reverse, h0, c0, wb, rb, peepholes)
            ys.append(y)
            states.append(last)
        y = self.op("Concat", *ys, axis=1) if len(ys) > 1 else ys[0]
        finals = [self.op("Concat", *(s[k] for s in states), axis=1) if len(states) > 1
                  else states[0][k] for k in range(len(states[0]))]
        return _onnx_outputs(layer, y, finals)

    def direction(self, d: int, reverse: bool, h0, c0, wb, rb, peepholes):
        """One direction over every step: Y [batch, 1, seq, hidden] and its last states."""
        w = self.per_gate(self.ctx.input(1), d, "W")
        r = self.per_gate(self.ctx.input(2), d, "R")
        w_bias, r_bias = self.per_gate(wb, d, "Wb"), self.per_gate(rb, d, "Rb")
        p = None
        if peepholes is not None:
            p = _split(self.ctx, self.take(peepholes, d, 0), 3, 0, f"unrolled/P{d}")
        fns = self.layer.functions(d)
        h = self.take(h0, d, 1)
        c = None if c0 is None else self.take(c0, d, 1)
        outputs: dict[int, Output] = {}
        order = range(self.steps - 1, -1, -1) if reverse else range(self.steps)
        zero = self.scalar(0)
        for t in order:
            x_t = self.take(self.x, t, 1)
            gates = [self.binary("Add", self.linear(x_t, w[g]), w_bias[g]) for g in range(len(w))]
            h_new, c_new = self.cell(gates, h, c, r, r_bias, p, fns)
            active = self.binary("Less", self.ctx.const(np.array([t], np.int64)), self.lengths)
            active = self.op("Unsqueeze", active, i64(self.ctx, [1]))
            outputs[t] = select(self.ctx.graph, active, h_new, zero, name=self.name("y"))
            h = select(self.ctx.graph, active, h_new, h, name=self.name("h"))
            if c is not None:
                c = select(self.ctx.graph, active, c_new, c, name=self.name("c"))
        stacked = [self.op("Unsqueeze", outputs[t], i64(self.ctx, [1, 2])) for t in range(self.steps)]
        y = self.op("Concat", *stacked, axis=2) if len(stacked) > 1 else stacked[0]
        last = [self.op("Unsqueeze", s, i64(self.ctx, [1])) for s in (h, c) if s is not None]
        return y, last

    def cell(self, gates, h, c, r, r_bias, p, fns):
        """One step of the layer's cell; `gates` hold X W^T + Wb per gate (ONNX order)."""
        kind = self.layer.kind

        def recurrent(g: int, state: Output) -> Output:
            return self.binary("Add", self.linear(state, r[g]), r_bias[g])

        if kind == "RNN":
            return self.activate(fns[0], self.binary("Add", gates[0], recurrent(0, h))), None
        if kind == "GRU":
            z = self.activate(fns[0], self.binary("Add", gates[0], recurrent(0, h)))
            reset = self.activate(fns[0], self.binary("Add", gates[1], recurrent(1, h)))
            if self.ctx.attr("linear_before_reset", 0):
                hidden_in = self.binary("Multiply", reset, recurrent(2, h))
            else:
                hidden_in = recurrent(2, self.binary("Multiply", reset, h))
            candidate = self.activate(fns[1], self.binary("Add", gates[2], hidden_in))
            keep = self.binary("Multiply", z, h)
            take = self.binary("Multiply", self.binary("Subtract", self.scalar(1), z), candidate)
            return self.binary("Add", take, keep), None
        i, o, f, g = (self.binary("Add", gates[k], recurrent(k, h)) for k in range(4))
        if p is not None:
            i = self.binary("Add", i, self.binary("Multiply", p[0], c))
            f = self.binary("Add", f, self.binary("Multiply", p[2], c))
        i = self.activate(fns[0], i)
        f = self.activate(fns[0], f)
        if self.ctx.attr("input_forget", 0):
            f = self.binary("Subtract", self.scalar(1), i)
        c_new = self.binary("Add", self.binary("Multiply", f, c),
                            self.binary("Multiply", i, self.activate(fns[1], g)))
        if p is not None:
            o = self.binary("Add", o, self.binary("Multiply", p[1], c_new))
        o = self.activate(fns[0], o)
        return self.binary("Multiply", o, self.activate(fns[2], c_new, clip=False)), c_new
