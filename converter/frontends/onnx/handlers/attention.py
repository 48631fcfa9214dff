"""Attention (opset 23..25) and FlexAttention (ai.onnx.preview), decomposed into MatMul,
SoftMax, Select and friends.

The decomposition follows the operator's reading in the onnx reference: 3-D inputs are split
into heads, the past key/value caches are prepended (present_key/value), K and V heads are
repeated for grouped-query attention, and one additive bias gathers the attention mask (a
boolean mask becomes 0 / -inf), the causal frontier (bottom-right aligned: by the past length,
or per batch by `nonpad_kv_seqlen`), the sliding window of opset 25 and the key padding of
`nonpad_kv_seqlen`. Softcap applies before the bias; a row whose bias is -inf everywhere (no key
may be attended) gives zero probabilities instead of SoftMax's NaN. OpenVINO's
ScaledDotProductAttention is not used: it has neither softcap, the fully-masked-row rule nor the
qk_matmul_output outputs, and the decomposition is what it computes anyway.

FlexAttention is the same core (no masks) with the node's own `score_mod` and `prob_mod`
graphs inlined around SoftMax.
"""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from ..model import element_type
from ..subgraphs import ControlFlowContext
from . import registry
from ._util import i64

# The inputs, by position.
Q, K, V, MASK, PAST_KEY, PAST_VALUE, NONPAD = range(7)
# What the fourth output (qk_matmul_output) holds, by qk_matmul_output_mode.
QK_WITH_BIAS, QK_SOFTMAX = 2, 3


@registry.register("Attention", since=23)
def attention(ctx: OnnxNodeContext) -> list[Output | None]:
    q, k, v = (ctx.input(i) for i in (Q, K, V))
    rank = q.rank
    if rank not in (3, 4) or k.rank != rank or v.rank != rank:
        raise ctx.error(f"Q, K and V must all be 3-D or all 4-D, but their ranks are "
                        f"{q.rank}, {k.rank} and {v.rank}")
    if ctx.has_input(PAST_KEY) != ctx.has_input(PAST_VALUE):
        raise ctx.error("past_key and past_value must be given together")
    if ctx.has_input(NONPAD) and ctx.has_input(PAST_KEY):
        raise ctx.error("nonpad_kv_seqlen cannot be combined with past_key/past_value")
    if rank == 3:
        q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
        if q_heads is None or kv_heads is None:
            raise ctx.error("3-D Q, K and V need the q_num_heads and kv_num_heads attributes")
        q = _split_heads(ctx, q, int(q_heads), "q")
        k = _split_heads(ctx, k, int(kv_heads), "k")
        v = _split_heads(ctx, v, int(kv_heads), "v")
    present_key = _with_past(ctx, k, PAST_KEY, "present_key")
    present_value = _with_past(ctx, v, PAST_VALUE, "present_value")

    bias = _attention_bias(ctx, q, present_key)
    k_heads, v_heads = _repeat_kv_heads(ctx, q, present_key, present_value)
    scale = _sqrt_scale(ctx, q)
    scores = ctx.helper("MatMul", _times(ctx, q, scale, "q_scaled"),
                        _times(ctx, k_heads, scale, "k_scaled"), suffix="qk",
                        transpose_a=False, transpose_b=True)
    softcap = float(ctx.attr("softcap", 0.0) or 0.0)
    if softcap > 0:
        scores = _softcapped(ctx, scores, softcap)
    with_bias = scores if bias is None else ctx.helper("Add", scores, bias, suffix="qk_bias",
                                                       auto_broadcast="numpy")
    probabilities = _softmax(ctx, with_bias, q)
    if bias is not None:
        probabilities = _zero_fully_masked_rows(ctx, probabilities, bias)
    if rank == 4:
        y = ctx.op("MatMul", probabilities, v_heads, transpose_a=False, transpose_b=False)
    else:
        y = _merge_heads(ctx, ctx.helper("MatMul", probabilities, v_heads, suffix="attend",
                                         transpose_a=False, transpose_b=False))

    mode = int(ctx.attr("qk_matmul_output_mode", 0))
    qk_output = {QK_WITH_BIAS: with_bias, QK_SOFTMAX: probabilities}.get(mode, scores)
    return [y, present_key, present_value, qk_output]


def _split_heads(ctx: OnnxNodeContext, x: Output, heads: int, what: str) -> Output:
    """[batch, sequence, heads * size] -> [batch, heads, sequence, size]."""
    hidden = x.shape[2]
    if hidden != -1 and hidden % heads:
        raise ctx.error(f"the width {hidden} of {what.upper()} is not a multiple of its {heads} "
                        f"heads")
    size = -1 if hidden == -1 else hidden // heads  # static whenever the width is
    split = ctx.helper("Reshape", x, i64(ctx, [0, 0, heads, size]), suffix=f"{what}_heads",
                       special_zero=True)
    return ctx.helper("Transpose", split, i64(ctx, [0, 2, 1, 3]), suffix=f"{what}_transposed")


def _merge_heads(ctx: OnnxNodeContext, y: Output) -> Output:
    """[batch, heads, sequence, size] -> [batch, sequence, heads * size]."""
    transposed = ctx.helper("Transpose", y, i64(ctx, [0, 2, 1, 3]), suffix="y_transposed")
    return ctx.op("Reshape", transposed, i64(ctx, [0, 0, -1]), special_zero=True)


def _with_past(ctx: OnnxNodeContext, x: Output, past_index: int, what: str) -> Output:
    """The cache after this step: the past one (when given) followed by `x` along the
    sequence axis."""
    if not ctx.has_input(past_index):
        return x
    past = ctx.input(past_index)
    if past.rank != 4:
        raise ctx.error(f"past_key and past_value must be 4-D, but one has rank {past.rank}")
    return ctx.helper("Concat", past, x, suffix=what, axis=2)


def _dim(ctx: OnnxNodeContext, x: Output, axis: int, what: str) -> Output:
    """Dimension `axis` of `x` as a 0-D i64 tensor: a constant when the shape says it."""
    if x.shape is not None and x.shape[axis] != -1:
        return ctx.const(np.array(x.shape[axis], np.int64))
    dims = ctx.helper("ShapeOf", x, suffix=f"{what}_shape", output_type="i64")
    return ctx.helper("Gather", dims, ctx.const(np.array(axis, np.int64)),
                      ctx.const(np.array(0, np.int64)), suffix=what, batch_dims=0)


def _repeat_kv_heads(ctx: OnnxNodeContext, q: Output, k: Output,
                     v: Output) -> tuple[Output, Output]:
    """K and V with each head repeated (h0, h0, h1, h1, ...) to Q's head count, as grouped-
    and multi-query attention share one K/V head among consecutive Q heads."""
    q_heads, kv_heads = q.shape[1], k.shape[1]
    if -1 in (q_heads, kv_heads):
        raise ctx.error("the head counts of Q and K must be static")
    if q_heads == kv_heads:
        return k, v
    if q_heads % kv_heads or v.shape[1] != kv_heads:
        raise ctx.error(f"Q's {q_heads} heads are not a multiple of K's and V's {kv_heads} "
                        f"and {v.shape[1]}")
    return (_repeat_heads(ctx, k, q_heads // kv_heads, "k_repeated"),
            _repeat_heads(ctx, v, q_heads // kv_heads, "v_repeated"))


def _repeat_heads(ctx: OnnxNodeContext, x: Output, times: int, what: str) -> Output:
    expanded = ctx.helper("Unsqueeze", x, i64(ctx, [2]), suffix=f"{what}/unsqueeze")
    tiled = ctx.helper("Tile", expanded, i64(ctx, [1, 1, times, 1, 1]), suffix=f"{what}/tile")
    dims = ctx.helper("ShapeOf", x, suffix=f"{what}/shape", output_type="i64")
    target = ctx.helper("Concat", _gather(ctx, dims, [0], f"{what}/batch"), i64(ctx, [-1]),
                        _gather(ctx, dims, [2, 3], f"{what}/rows"), suffix=f"{what}/target",
                        axis=0)
    return ctx.helper("Reshape", tiled, target, suffix=what, special_zero=False)


def _gather(ctx: OnnxNodeContext, data: Output, indices: list[int], what: str) -> Output:
    return ctx.helper("Gather", data, i64(ctx, indices), ctx.const(np.array(0, np.int64)),
                      suffix=what, batch_dims=0)


def _sqrt_scale(ctx: OnnxNodeContext, q: Output) -> Output:
    """The square root of the scale (1/sqrt(head size) by default), applied to Q and K each
    as the reference does."""
    scale = ctx.attr("scale")
    if scale is not None:
        return ctx.scalar(float(np.sqrt(scale)), q)
    if q.shape is not None and q.shape[3] != -1:
        return ctx.scalar(float(np.sqrt(1.0 / np.sqrt(q.shape[3]))), q)
    size = ctx.helper("Convert", _dim(ctx, q, 3, "head_size"), suffix="head_size_float",
                      destination_type=q.element_type)
    return ctx.helper("Power", size, ctx.scalar(-0.25, q), suffix="scale_sqrt",
                      auto_broadcast="numpy")


def _times(ctx: OnnxNodeContext, x: Output, factor: Output, what: str) -> Output:
    return ctx.helper("Multiply", x, factor, suffix=what, auto_broadcast="numpy")


def _softcapped(ctx: OnnxNodeContext, scores: Output, softcap: float) -> Output:
    """softcap * tanh(scores / softcap)."""
    cap = ctx.scalar(softcap, scores)
    divided = ctx.helper("Divide", scores, cap, suffix="softcap/divide", auto_broadcast="numpy",
                         m_pythondiv=True)
    tanh = ctx.helper("Tanh", divided, suffix="softcap/tanh")
    return ctx.helper("Multiply", tanh, cap, suffix="softcap", auto_broadcast="numpy")


def _softmax(ctx: OnnxNodeContext, scores: Output, q: Output) -> Output:
    """SoftMax along the keys, in `softmax_precision` when that differs from Q's type."""
    precision = ctx.attr("softmax_precision")
    wanted = element_type(int(precision), "softmax_precision") if precision else q.element_type
    if wanted == q.element_type:
        return ctx.helper("SoftMax", scores, suffix="softmax", axis=3)
    widened = ctx.helper("Convert", scores, suffix="softmax_input", destination_type=wanted)
    softmax = ctx.helper("SoftMax", widened, suffix="softmax_precise", axis=3)
    return ctx.helper("Convert", softmax, suffix="softmax", destination_type=q.element_type)


def _zero_fully_masked_rows(ctx: OnnxNodeContext, probabilities: Output, bias: Output) -> Output:
    """Zero probabilities on rows whose bias is -inf for every key (SoftMax gives NaN there).

    Which keys are open is counted from IsInf rather than by comparing the row maximum with
    -inf: OpenVINO's CPU ReduceMax starts from the lowest finite value, so an all -inf row
    does not reduce to -inf there."""
    closed = ctx.helper("IsInf", bias, suffix="bias_closed", detect_negative=True,
                        detect_positive=False)
    open_keys = ctx.helper("Convert", ctx.helper("LogicalNot", closed, suffix="bias_open"),
                           suffix="bias_open_count", destination_type=probabilities.element_type)
    last = ctx.const(np.array([bias.rank - 1], np.int64))
    any_open = ctx.helper("ReduceMax", open_keys, last, suffix="bias_row_open", keep_dims=True)
    masked = ctx.helper("Equal", any_open, ctx.scalar(0, probabilities), suffix="fully_masked",
                        auto_broadcast="numpy")
    return ctx.helper("Select", masked, ctx.scalar(0, probabilities), probabilities,
                      suffix="softmax_guarded", auto_broadcast="numpy")


# -- the additive bias ------------------------------------------------------------------------

def _attention_bias(ctx: OnnxNodeContext, q: Output, keys: Output) -> Output | None:
    """The additive bias of the scores: 0 where a key may be attended, -inf where not (or the
    float mask's values), broadcastable to [batch, heads, q length, kv length]; None when
    nothing masks."""
    bias = _mask_bias(ctx, q, keys) if ctx.has_input(MASK) else None
    windowed = int(ctx.attr("left_window_size", -1)) != -1 or \
        int(ctx.attr("right_window_size", -1)) != -1
    if not (int(ctx.attr("is_causal", 0)) or windowed or ctx.has_input(NONPAD)):
        return bias  # nothing depends on the positions
    q_length, kv_length = _dim(ctx, q, 2, "q_length"), _dim(ctx, keys, 2, "kv_length")
    rows = _positions(ctx, q_length, [-1, 1], "q_positions")
    columns = _positions(ctx, kv_length, [-1], "kv_positions")
    offset = _causal_offset(ctx, q_length)
    frontier = rows if offset is None else ctx.helper("Add", rows, offset, suffix="frontier",
                                                      auto_broadcast="numpy")
    if int(ctx.attr("is_causal", 0)):
        allowed = ctx.helper("LessEqual", columns, frontier, suffix="causal_allowed",
                             auto_broadcast="numpy")
        bias = _add_bias(ctx, bias, _allowed_bias(ctx, allowed, q, "causal_bias"), "causal")
    window = _window_allowed(ctx, frontier, columns)
    if window is not None:
        bias = _add_bias(ctx, bias, _allowed_bias(ctx, window, q, "window_bias"), "window")
    if ctx.has_input(NONPAD):
        valid = ctx.helper("Less", columns, _per_batch(ctx, ctx.input(NONPAD), "nonpad"),
                           suffix="nonpad_allowed", auto_broadcast="numpy")
        bias = _add_bias(ctx, bias, _allowed_bias(ctx, valid, q, "nonpad_bias"), "nonpad")
    return bias


def _mask_bias(ctx: OnnxNodeContext, q: Output, keys: Output) -> Output:
    """attn_mask as an additive bias (a boolean one as 0 / -inf), padded with -inf up to the
    keys' length when it is shorter."""
    mask = ctx.input(MASK)
    if mask.element_type == "boolean":
        mask = _allowed_bias(ctx, mask, q, "mask_bias")
    if mask.rank is None or mask.rank == 0:
        raise ctx.error("attn_mask must have a known rank of at least 1")
    mask_length, kv_length = mask.shape[-1], keys.shape[2]
    if -1 not in (mask_length, kv_length) and mask_length == kv_length:
        return mask
    if -1 not in (mask_length, kv_length) and mask_length > kv_length:
        raise ctx.error(f"attn_mask covers {mask_length} keys, more than the {kv_length} of "
                        f"K (with the past)")
    missing = ctx.helper("Subtract", _dim(ctx, keys, 2, "kv_length_for_mask"),
                         _dim(ctx, mask, mask.rank - 1, "mask_length"), suffix="mask_missing",
                         auto_broadcast="numpy")
    zeros = i64(ctx, [0] * (mask.rank - 1))
    pads_end = ctx.helper("Concat", zeros, ctx.helper("Unsqueeze", missing, i64(ctx, [0]),
                                                       suffix="mask_missing_1d"),
                          suffix="mask_pads_end", axis=0)
    pads_begin = i64(ctx, [0] * mask.rank)
    return ctx.helper("Pad", mask, pads_begin, pads_end, ctx.scalar(-np.inf, mask),
                      suffix="mask_padded", pad_mode="constant")


def _positions(ctx: OnnxNodeContext, length: Output, shape: list[int], what: str) -> Output:
    """0 .. length-1 (i64), reshaped to `shape`."""
    values = ctx.helper("Range", ctx.const(np.array(0, np.int64)), length,
                        ctx.const(np.array(1, np.int64)), suffix=f"{what}/range",
                        output_type="i64")
    return ctx.helper("Reshape", values, i64(ctx, shape), suffix=what, special_zero=False)


def _per_batch(ctx: OnnxNodeContext, values: Output, what: str) -> Output:
    """A per-batch [batch] vector shaped [batch, 1, 1, 1] against the scores, as i64."""
    if values.element_type != "i64":
        values = ctx.helper("Convert", values, suffix=f"{what}_i64", destination_type="i64")
    return ctx.helper("Reshape", values, i64(ctx, [-1, 1, 1, 1]), suffix=f"{what}_per_batch",
                      special_zero=False)


def _causal_offset(ctx: OnnxNodeContext, q_length: Output) -> Output | None:
    """How many keys precede the query block: the past length with a cache, per batch
    nonpad_kv_seqlen - q length with an external one, else none."""
    if ctx.has_input(PAST_KEY):
        return _dim(ctx, ctx.input(PAST_KEY), 2, "past_length")
    if ctx.has_input(NONPAD):
        nonpad = _per_batch(ctx, ctx.input(NONPAD), "nonpad_offset")
        return ctx.helper("Subtract", nonpad, q_length, suffix="causal_offset",
                          auto_broadcast="numpy")
    return None


def _window_allowed(ctx: OnnxNodeContext, frontier: Output, columns: Output) -> Output | None:
    """Where keys lie within the sliding window (opset 25: left/right_window_size, -1 for an
    unbounded side) of each query's absolute position; None without a window."""
    left, right = int(ctx.attr("left_window_size", -1)), int(ctx.attr("right_window_size", -1))
    if left < -1 or right < -1:
        raise ctx.error(f"left_window_size and right_window_size must be -1 or nonnegative, "
                        f"not {left} and {right}")
    if left < 0 and right < 0:
        return None
    distance = ctx.helper("Subtract", frontier, columns, suffix="window_distance",
                          auto_broadcast="numpy")
    allowed = None
    if left >= 0:
        allowed = ctx.helper("LessEqual", distance, ctx.const(np.array(left, np.int64)),
                             suffix="window_left", auto_broadcast="numpy")
    if right >= 0:
        right_ok = ctx.helper("GreaterEqual", distance, ctx.const(np.array(-right, np.int64)),
                              suffix="window_right", auto_broadcast="numpy")
        allowed = right_ok if allowed is None else ctx.helper(
            "LogicalAnd", allowed, right_ok, suffix="window_allowed", auto_broadcast="numpy")
    return allowed


def _allowed_bias(ctx: OnnxNodeContext, allowed: Output, like: Output, what: str) -> Output:
    """0 where `allowed` holds, -inf elsewhere, in `like`'s element type."""
    return ctx.helper("Select", allowed, ctx.scalar(0, like), ctx.scalar(-np.inf, like),
                      suffix=what, auto_broadcast="numpy")


def _add_bias(ctx: OnnxNodeContext, bias: Output | None, more: Output, what: str) -> Output:
    if bias is None:
        return more
    return ctx.helper("Add", bias, more, suffix=f"{what}_combined", auto_broadcast="numpy")


# -- FlexAttention (ai.onnx.preview) --------------------------------------------------------------

@registry.register("ai.onnx.preview.FlexAttention", since=1)
def flex_attention(ctx: ControlFlowContext) -> Output:
    """Attention over 4-D Q, K, V whose scores and probabilities pass through the node's own
    graphs (`score_mod` before SoftMax, `prob_mod` after), inlined here. Scores, SoftMax and
    the mods work in `softmax_precision`, by default f32 for 16-bit inputs."""
    q, k, v = (ctx.input(i) for i in (Q, K, V))
    if q.rank != 4 or k.rank != 4 or v.rank != 4:
        raise ctx.error(f"Q, K and V must be 4-D, not of ranks {q.rank}, {k.rank} and {v.rank}")
    k_heads, v_heads = _repeat_kv_heads(ctx, q, k, v)
    scale = ctx.attr("scale")
    if scale is None:
        if q.shape[3] == -1:
            raise ctx.error("without a scale attribute, the head size of Q must be static")
        scale = 1.0 / np.sqrt(q.shape[3])
    root = ctx.scalar(float(np.sqrt(np.float32(scale))), q)
    scores = ctx.helper("MatMul", _times(ctx, q, root, "q_scaled"),
                        _times(ctx, k_heads, root, "k_scaled"), suffix="qk",
                        transpose_a=False, transpose_b=True)
    compute = _flex_precision(ctx, q)
    scores = _converted(ctx, scores, compute, "qk_precise")
    if "score_mod" in ctx.attrs:
        scores = _modded(ctx, "score_mod", scores)
    probabilities = ctx.helper("SoftMax", scores, suffix="softmax", axis=3)
    if "prob_mod" in ctx.attrs:
        probabilities = _modded(ctx, "prob_mod", probabilities)
    values = _converted(ctx, v_heads, compute, "v_precise")
    if compute == v.element_type:
        return ctx.op("MatMul", probabilities, values, transpose_a=False, transpose_b=False)
    y = ctx.helper("MatMul", probabilities, values, suffix="attend", transpose_a=False,
                   transpose_b=False)
    return ctx.op("Convert", y, destination_type=v.element_type)


def _flex_precision(ctx: OnnxNodeContext, q: Output) -> str:
    precision = ctx.attr("softmax_precision")
    if precision:
        return element_type(int(precision), "softmax_precision")
    return "f64" if q.element_type == "f64" else "f32"


def _converted(ctx: OnnxNodeContext, x: Output, wanted: str, what: str) -> Output:
    if x.element_type == wanted:
        return x
    return ctx.helper("Convert", x, suffix=what, destination_type=wanted)


def _modded(ctx: ControlFlowContext, attribute: str, x: Output) -> Output:
    """`x` through the node's one-input, one-output graph `attribute`, inlined."""
    outputs = ctx.inline(ctx.subgraph(attribute), [x])
    if len(outputs) != 1 or not isinstance(outputs[0], Output):
        raise ctx.error(f"its {attribute} graph must give one tensor, not {len(outputs)} "
                        f"value(s)")
    return outputs[0]
