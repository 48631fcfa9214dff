"""The optimizers of domain ai.onnx.preview.training: Adagrad, Adam and Momentum.

Each updates one or more tensors X from their gradients G and optimizer states in one step.
They are pure element-wise formulas of their inputs: the learning rate R (a scalar), the
update count T (an i64 scalar), then per tensor X, G and the states, every group of inputs
in the order of the tensors; the outputs are the new X's, then each new state, grouped the same
way. OpenVINO has no such ops, so each formula is built from element-wise ops.
"""
from __future__ import annotations

from dataclasses import dataclass

from ....graph import Output
from ...builders.elementwise import binary, select
from ..context import OnnxNodeContext
from . import registry

DOMAIN = "ai.onnx.preview.training"


@dataclass
class Formula:
    """Element-wise arithmetic on outputs, each op named `<node>/<tensor index>/<step>`."""

    ctx: OnnxNodeContext
    prefix: str
    like: Output

    def name(self, step: str) -> str:
        return f"{self.ctx.name}/{self.prefix}{step}"

    def c(self, value: float) -> Output:
        """A scalar of the updated tensor's element type."""
        return self.ctx.scalar(float(value), self.like)

    def op(self, op: str, a: Output, b: Output, step: str) -> Output:
        return binary(self.ctx.graph, op, a, b, name=self.name(step))

    def add(self, a, b, step):
        return self.op("Add", a, b, step)

    def sub(self, a, b, step):
        return self.op("Subtract", a, b, step)

    def mul(self, a, b, step):
        return self.op("Multiply", a, b, step)

    def div(self, a, b, step):
        return self.op("Divide", a, b, step)

    def sqrt(self, a, step):
        return self.ctx.graph.op("Sqrt", a, name=self.name(step))


def _groups(ctx: OnnxNodeContext, per_tensor: int) -> list[list[Output]]:
    """The inputs after R and T as one group [X, G, states...] per updated tensor."""
    count = len(ctx.inputs) - 2
    if count <= 0 or count % per_tensor:
        raise ctx.error(f"has {len(ctx.inputs)} inputs; expected R, T and {per_tensor} inputs "
                        f"per updated tensor")
    n = count // per_tensor
    return [[ctx.input(2 + n * k + i) for k in range(per_tensor)] for i in range(n)]


def _count_as(ctx: OnnxNodeContext, like: Output) -> Output:
    """The update count T in the updated tensor's element type."""
    return ctx.helper("Convert", ctx.input(1), suffix="T", destination_type=like.element_type)


def _rate_as(ctx: OnnxNodeContext, like: Output) -> Output:
    rate = ctx.input(0)
    if rate.element_type == like.element_type:
        return rate
    return ctx.helper("Convert", rate, suffix="R", destination_type=like.element_type)


def _regularized(f: Formula, x: Output, g: Output) -> Output:
    """G + norm_coefficient * X: the gradient with the L2 regularization's term."""
    norm = float(f.ctx.attr("norm_coefficient", 0.0))
    return f.add(f.mul(f.c(norm), x, "norm_x"), g, "g_regularized")


def _transposed(updates: list[tuple[Output, ...]]) -> list[Output]:
    """[(x1, h1), (x2, h2)] -> [x1, x2, h1, h2]: ONNX's output order."""
    return [out for column in zip(*updates) for out in column]


def _required(ctx: OnnxNodeContext, name: str) -> float:
    value = ctx.attr(name)
    if value is None:
        raise ctx.error(f"lacks its attribute {name}, which {ctx.op_type} requires")
    return float(value)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@registry.register(f"{DOMAIN}.Adagrad")
def adagrad(ctx: OnnxNodeContext) -> list[Output]:
    """r' = R / (1 + T * decay_factor); H' = H + g^2; X' = X - r' * g / (sqrt(H') + eps)."""
    decay, eps = float(ctx.attr("decay_factor", 0.0)), float(ctx.attr("epsilon", 0.0))
    groups, updates = _groups(ctx, 3), []
    t, r = _count_as(ctx, groups[0][0]), _rate_as(ctx, groups[0][0])
    for i, (x, g, h) in enumerate(groups):
        f = Formula(ctx, f"{i}/", x)
        rate = f.div(r, f.add(f.c(1), f.mul(t, f.c(decay), "t_decay"), "decay"), "rate")
        g = _regularized(f, x, g)
        h_new = f.add(h, f.mul(g, g, "g_squared"), "H_new")
        scale = f.add(f.sqrt(h_new, "h_sqrt"), f.c(eps), "h_sqrt_eps")
        step = f.div(f.mul(rate, g, "rate_g"), scale, "step")
        updates.append((f.sub(x, step, "X_new"), h_new))
    return _transposed(updates)


@registry.register(f"{DOMAIN}.Momentum")
def momentum(ctx: OnnxNodeContext) -> list[Output]:
    """V' = alpha * V + beta' * g (beta' = 1 at T = 0); X' = X - R * V' (standard) or
    X - R * (g + alpha * V') (nesterov)."""
    mode = _text(ctx.attr("mode", "standard"))
    if mode not in ("standard", "nesterov"):
        raise ctx.error(f"mode {mode!r} is neither 'standard' nor 'nesterov'")
    alpha, beta = _required(ctx, "alpha"), _required(ctx, "beta")
    groups, updates = _groups(ctx, 3), []
    t, r = _count_as(ctx, groups[0][0]), _rate_as(ctx, groups[0][0])
    for i, (x, g, v) in enumerate(groups):
        f = Formula(ctx, f"{i}/", x)
        first = binary(ctx.graph, "Greater", t, f.c(0), name=f.name("started"))
        beta_t = select(ctx.graph, first, f.c(beta), f.c(1), name=f.name("beta"))
        g = _regularized(f, x, g)
        v_new = f.add(f.mul(f.c(alpha), v, "alpha_v"), f.mul(beta_t, g, "beta_g"), "V_new")
        direction = v_new if mode == "standard" else \
            f.add(g, f.mul(f.c(alpha), v_new, "alpha_v_new"), "nesterov")
        updates.append((f.sub(x, f.mul(r, direction, "step"), "X_new"), v_new))
    return _transposed(updates)


@registry.register(f"{DOMAIN}.Adam")
def adam(ctx: OnnxNodeContext) -> list[Output]:
    """V' = alpha V + (1 - alpha) g; H' = beta H + (1 - beta) g^2; with T > 0 the rate gets the
    bias correction R sqrt(1 - beta^T) / (1 - alpha^T); X' = (1 - norm_post) *
    (X - rate * V' / (sqrt(H') + eps))."""
    alpha, beta = float(ctx.attr("alpha", 0.9)), float(ctx.attr("beta", 0.999))
    eps, post = float(ctx.attr("epsilon", 1e-6)), float(ctx.attr("norm_coefficient_post", 0.0))
    groups, updates = _groups(ctx, 4), []
    t, r = _count_as(ctx, groups[0][0]), _rate_as(ctx, groups[0][0])
    for i, (x, g, v, h) in enumerate(groups):
        f = Formula(ctx, f"{i}/", x)
        g = _regularized(f, x, g)
        v_new = f.add(f.mul(f.c(alpha), v, "alpha_v"), f.mul(f.c(1 - alpha), g, "g_part"),
                      "V_new")
        g_squared = f.mul(g, g, "g_squared")
        h_new = f.add(f.mul(f.c(beta), h, "beta_h"), f.mul(f.c(1 - beta), g_squared, "g2_part"),
                      "H_new")
        beta_t = f.sub(f.c(1), f.op("Power", f.c(beta), t, "beta_t"), "one_minus_beta_t")
        alpha_t = f.sub(f.c(1), f.op("Power", f.c(alpha), t, "alpha_t"), "one_minus_alpha_t")
        corrected = f.div(f.mul(r, f.sqrt(beta_t, "sqrt_beta_t"), "r_sqrt"), alpha_t,
                          "corrected_rate")
        started = binary(ctx.graph, "Greater", t, f.c(0), name=f.name("started"))
        rate = select(ctx.graph, started, corrected, r, name=f.name("rate"))
        scale = f.add(f.sqrt(h_new, "h_sqrt"), f.c(eps), "h_sqrt_eps")
        x_new = f.sub(x, f.mul(rate, f.div(v_new, scale, "ratio"), "step"), "X_step")
        updates.append((f.mul(f.c(1 - post), x_new, "X_new"), v_new, h_new))
    return _transposed(updates)
