"""Recurrent sequence ops (opset5): LSTMSequence, GRUSequence and RNNSequence.

All three read X [batch, seq, input], the initial state(s) [batch, directions, hidden], the
sequence lengths [batch] and the weights W [directions, gates * hidden, input],
R [directions, gates * hidden, hidden] and B [directions, gates * hidden] (GRU with
`linear_before_reset`: 4 * hidden). They give Y [batch, directions, seq, hidden] and the last
state(s) [batch, directions, hidden]. Gate orders: LSTM f, i, c, o; GRU z, r, h.
"""
from . import OpSpec, register

DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


def _dim(shape, axis: int) -> int:
    return -1 if shape is None else shape[axis]


class _Sequence(OpSpec):
    version = "opset5"
    attributes = ("direction", "hidden_size", "activations", "activations_alpha",
                  "activations_beta", "clip")
    states = 1  # outputs after Y: the last hidden state (and cell state for LSTM)

    @classmethod
    def infer(cls, node):
        x = node.inputs[0]
        if x.shape is not None and len(x.shape) != 3:
            raise ValueError(f"X must be 3-D [batch, seq, input], not {list(x.shape)}")
        direction = node.attrs["direction"]
        if direction not in DIRECTIONS:
            raise ValueError(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
        directions, hidden = DIRECTIONS[direction], int(node.attrs["hidden_size"])
        batch = _dim(x.shape, 0)
        if batch == -1:
            batch = _dim(node.inputs[1].shape, 0)
        y = ((batch, directions, _dim(x.shape, 1), hidden), x.element_type)
        state = ((batch, directions, hidden), x.element_type)
        return [y] + [state] * cls.states


@register
class LSTMSequence(_Sequence):
    type = "LSTMSequence"
    states = 2


@register
class GRUSequence(_Sequence):
    type = "GRUSequence"
    attributes = ("direction", "linear_before_reset", "hidden_size", "activations",
                  "activations_alpha", "activations_beta", "clip")


@register
class RNNSequence(_Sequence):
    type = "RNNSequence"
