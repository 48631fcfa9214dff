"""LinearAttention (opset 27): attention through a recurrent [d_k, d_v] state per K/V head,
updated at each step by one of four rules (linear, gated, delta, gated_delta) and read by the
queries. OpenVINO has no such op; the recurrence is unrolled over the (static) sequence length
into MatMul, Multiply and Add, computed in f32 as the operator specifies."""
from __future__ import annotations

import numpy as np

from ....graph import Output
from ..context import OnnxNodeContext
from . import registry
from ._util import i64

QUERY, KEY, VALUE, PAST_STATE, DECAY, BETA = range(6)
RULES = ("linear", "gated", "delta", "gated_delta")
MAX_STEPS = 512  # unrolled step by step: a longer sequence would make an unreasonable IR


@registry.register("LinearAttention", since=27)
def linear_attention(ctx: OnnxNodeContext) -> list[Output]:
    rule = str(ctx.attr("update_rule", "gated_delta"))
    if rule not in RULES:
        raise ctx.error(f"update_rule {rule!r} is not one of {', '.join(RULES)}")
    gated, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    _check_rule_inputs(ctx, rule, gated, delta)
    q_heads, kv_heads = _head_counts(ctx)
    query, key, value = (ctx.input(i) for i in (QUERY, KEY, VALUE))
    if any(x.rank != 3 for x in (query, key, value)):
        raise ctx.error("query, key and value must be 3-D [batch, sequence, heads * size]")
    steps = query.shape[1]
    if steps == -1 or steps > MAX_STEPS:
        raise ctx.error(f"the sequence length must be static and at most {MAX_STEPS} (the "
                        f"recurrence is unrolled), not {'dynamic' if steps == -1 else steps}")
    key_size = _head_size(ctx, query, q_heads, "query")
    value_size = _head_size(ctx, value, kv_heads, "value")
    group = q_heads // kv_heads

    scale = float(ctx.attr("scale", 0.0) or 0.0) or 1.0 / np.sqrt(key_size)
    queries = _times(ctx, _heads(ctx, _f32(ctx, query, "query"), q_heads, key_size, "query"),
                     ctx.const(np.array(scale, np.float32)), "query_scaled")
    # [batch, kv heads, group, sequence, d_k]: the query heads reading one K/V head together.
    queries = ctx.helper("Reshape", queries, i64(ctx, [0, kv_heads, group, steps, key_size]),
                         suffix="query_groups", special_zero=True)
    q_steps = [ctx.helper("Squeeze", q, i64(ctx, [3]), suffix=f"step{t}/query")
               for t, q in enumerate(_split(ctx, queries, 3, steps, "query_steps"))]
    keys = _heads(ctx, _f32(ctx, key, "key"), kv_heads, key_size, "key")
    values = _heads(ctx, _f32(ctx, value, "value"), kv_heads, value_size, "value")
    k_steps = _split(ctx, keys, 2, steps, "key_steps")
    v_steps = _split(ctx, values, 2, steps, "value_steps")
    gates = _gates(ctx, kv_heads, key_size, steps) if gated else None
    betas = _betas(ctx, steps) if delta else None

    state = _f32(ctx, ctx.input(PAST_STATE), "past_state") if ctx.has_input(PAST_STATE) else None
    outputs = []
    for t in range(steps):
        state = _step(ctx, state, k_steps[t], v_steps[t], gates and gates[t],
                      betas and betas[t], f"step{t}")
        read = ctx.helper("MatMul", q_steps[t], state, suffix=f"step{t}/read",
                          transpose_a=False, transpose_b=False)
        outputs.append(ctx.helper("Unsqueeze", read, i64(ctx, [3]), suffix=f"step{t}/output"))
    return [_output(ctx, outputs, query, q_heads, value_size, steps), _present(ctx, state)]


def _check_rule_inputs(ctx: OnnxNodeContext, rule: str, gated: bool, delta: bool) -> None:
    for index, name, needed in ((DECAY, "decay", gated), (BETA, "beta", delta)):
        if ctx.has_input(index) != needed:
            verb = "needs" if needed else "takes no"
            raise ctx.error(f"update_rule {rule!r} {verb} the {name} input")


def _head_counts(ctx: OnnxNodeContext) -> tuple[int, int]:
    q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if not q_heads or not kv_heads or int(q_heads) % int(kv_heads):
        raise ctx.error(f"q_num_heads ({q_heads}) must be a positive multiple of kv_num_heads "
                        f"({kv_heads})")
    return int(q_heads), int(kv_heads)


def _head_size(ctx: OnnxNodeContext, x: Output, heads: int, name: str) -> int:
    width = x.shape[2]
    if width == -1 or width % heads:
        raise ctx.error(f"the width of {name} ({width}) must be static and a multiple of its "
                        f"{heads} heads")
    return width // heads


def _f32(ctx: OnnxNodeContext, x: Output, name: str) -> Output:
    if x.element_type == "f32":
        return x
    return ctx.helper("Convert", x, suffix=f"{name}_f32", destination_type="f32")


def _heads(ctx: OnnxNodeContext, x: Output, heads: int, size: int, name: str) -> Output:
    """[batch, sequence, heads * size] -> [batch, heads, sequence, size]."""
    split = ctx.helper("Reshape", x, i64(ctx, [0, 0, heads, size]), suffix=f"{name}_heads",
                       special_zero=True)
    return ctx.helper("Transpose", split, i64(ctx, [0, 2, 1, 3]), suffix=f"{name}_by_head")


def _split(ctx: OnnxNodeContext, x: Output, axis: int, parts: int, name: str) -> list[Output]:
    node = ctx.graph.add("Split", [x, ctx.const(np.array(axis, np.int64))],
                         {"num_splits": parts}, name=f"{ctx.name}/{name}", num_outputs=parts)
    return [node.output(i) for i in range(parts)]


def _times(ctx: OnnxNodeContext, a: Output, b: Output, name: str) -> Output:
    return ctx.helper("Multiply", a, b, suffix=name, auto_broadcast="numpy")


def _gates(ctx: OnnxNodeContext, kv_heads: int, key_size: int, steps: int) -> list[Output]:
    """exp(decay) per step as [batch, kv heads, d_k or 1, 1], to scale the state's rows."""
    decay = ctx.input(DECAY)
    width = decay.shape[2] if decay.rank == 3 else None
    if width not in (kv_heads, kv_heads * key_size):
        raise ctx.error(f"decay must be [batch, sequence, {kv_heads}] or [batch, sequence, "
                        f"{kv_heads * key_size}], not {decay.shape}")
    per_head = ctx.helper("Reshape", _f32(ctx, decay, "decay"),
                          i64(ctx, [0, 0, kv_heads, width // kv_heads]), suffix="decay_heads",
                          special_zero=True)
    ordered = ctx.helper("Transpose", ctx.helper("Exp", per_head, suffix="decay_exp"),
                         i64(ctx, [0, 2, 3, 1]), suffix="gates")
    return _split(ctx, ordered, 3, steps, "gate_steps")


def _betas(ctx: OnnxNodeContext, steps: int) -> list[Output]:
    """beta per step as [batch, kv heads or 1, 1, 1]."""
    beta = ctx.input(BETA)
    if beta.rank != 3:
        raise ctx.error(f"beta must be 3-D [batch, sequence, kv heads or 1], not {beta.shape}")
    ordered = ctx.helper("Transpose", _f32(ctx, beta, "beta"), i64(ctx, [0, 2, 1]),
                         suffix="beta_by_head")
    shaped = ctx.helper("Unsqueeze", ordered, i64(ctx, [3]), suffix="betas")
    return _split(ctx, shaped, 2, steps, "beta_steps")


def _step(ctx: OnnxNodeContext, state: Output | None, k: Output, v: Output,
          gate: Output | None, beta: Output | None, name: str) -> Output:
    """One update of the state (None: still zero) by key k [.., 1, d_k] and value v [.., 1, d_v]:
    decay it by the gate, correct v by what the state already recalls for k (delta rules),
    then add the outer product k^T v."""
    if gate is not None and state is not None:
        state = _times(ctx, state, gate, f"{name}/decayed")
    if beta is not None:
        if state is not None:
            recalled = ctx.helper("MatMul", k, state, suffix=f"{name}/recalled",
                                  transpose_a=False, transpose_b=False)
            v = ctx.helper("Subtract", v, recalled, suffix=f"{name}/surprise",
                           auto_broadcast="numpy")
        v = _times(ctx, v, beta, f"{name}/corrected")
    update = ctx.helper("MatMul", k, v, suffix=f"{name}/outer", transpose_a=True,
                        transpose_b=False)
    if state is None:
        return update
    return ctx.helper("Add", state, update, suffix=f"{name}/state", auto_broadcast="numpy")


def _output(ctx: OnnxNodeContext, outputs: list[Output], query: Output, q_heads: int,
            value_size: int, steps: int) -> Output:
    """The per-step reads [batch, kv heads, group, 1, d_v] as [batch, sequence, heads * d_v]."""
    joined = ctx.helper("Concat", *outputs, suffix="reads", axis=3)
    by_head = ctx.helper("Reshape", joined, i64(ctx, [0, q_heads, steps, value_size]),
                         suffix="reads_by_head", special_zero=True)
    ordered = ctx.helper("Transpose", by_head, i64(ctx, [0, 2, 1, 3]), suffix="reads_ordered")
    target = i64(ctx, [0, 0, q_heads * value_size])
    if query.element_type == "f32":
        return ctx.op("Reshape", ordered, target, special_zero=True)
    flat = ctx.helper("Reshape", ordered, target, suffix="output_f32", special_zero=True)
    return ctx.op("Convert", flat, destination_type=query.element_type)


def _present(ctx: OnnxNodeContext, state: Output) -> Output:
    """The final state, in past_state's element type (the query's without one)."""
    source = ctx.input(PAST_STATE) if ctx.has_input(PAST_STATE) else ctx.input(QUERY)
    if source.element_type == "f32":
        return state
    return ctx.helper("Convert", state, suffix="present_state",
                      destination_type=source.element_type)
