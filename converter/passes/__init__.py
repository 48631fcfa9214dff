"""Graph passes, one per module, run in the order of `PIPELINE`.

Each pass module exposes `run(graph, options) -> int`, the number of rewrites it made, and opens
its docstring with the pattern before and after. A pass rewrites the inside of the model only:

- after every pass the graph's shapes are inferred again, so a pass that leaves the graph
  inconsistent is caught and named at once (shapes that fitted before the pass and no longer do
  are the pass's doing, an InternalError, never the model's);
- the model's interface (the shape and element type of every Parameter and of every graph
  output) is recorded before each pass and compared after it: a change is an InternalError
  naming the pass, the tensor and both values. An output whose dimensions were dynamic may
  become static (folding can only make shapes better known); nothing else may change.

Any other exception a pass raises is an InternalError naming it; a UserInputError (e.g. mean
values that do not fit an input) stays the user's, with the pass named as its stage.

The runner records per pass the node count before and after, the rewrites and the time
(`PassStep`): logged at INFO with `--steps` (what `python -m converter --steps` prints), at
DEBUG otherwise. User passes loaded by `--extensions` (see `converter.extensions`) run at the
place they name in `PIPELINE`, under the same contract.
"""
from __future__ import annotations

import importlib
import logging
import time
from typing import Callable, NamedTuple, Sequence

from ..errors import InternalError, ShapeMismatchError, attributed
from ..graph import Graph, Node, Shape
from ..options import ConversionOptions

log = logging.getLogger(__name__)

# Order matters; each line says why it stands where it does.
PIPELINE = [
    "remove_noop_nodes",         # Identity-like nodes and no-op Reshape/Transpose/Convert, first,
                                 # so that no later pattern has to look through them
    "constant_folding",          # fold what frontends left computable (weight transposes, BN maths)
    "eliminate_common_subexpressions",  # the same op on the same inputs computed once
    "fold_space_to_batch",       # SpaceToBatchND -> Convolution -> BatchToSpaceND: one dilated conv,
                                 # before the sinking, which then cancels its layout Transposes
    "transpose_sinking",         # cancel the layout Transposes frontends put around NCHW-only ops
    "constant_folding",          # fold the constants the sinking rearranged
    "collapse_reshape_chains",   # Reshape/Squeeze/Unsqueeze/Transpose chains the sinking left
    "preprocessing",             # mean/scale/reverse-channels right after the inputs, before fusing
    "fold_reverse_channels",     # the Gather preprocessing just made into the first conv's weights,
                                 # while they are still plain f32 Consts (before compress_fp16)
    "raise_input_transposes",    # an input's layout Transpose up above its Rescaling/Pad chain,
                                 # so that the Pad meets the first conv (next pass)
    "fold_pad_into_window",      # Pad before a Convolution or pooling into its pads
    "fuse_grouped_convolution",  # Split -> N Convolutions -> Concat: one GroupConvolution
    "fuse_linear_into_conv",     # Multiply by a per-channel constant folds into conv weights
    "fuse_linear_into_matmul",   # BatchNorm and scale-shift chains into MatMul weights and bias
    "merge_constant_chains",     # Multiply/Add-by-constant chains left after fusing into one
    "fuse_activation_patterns",  # Gelu, HSwish, HSigmoid, Swish, Mish, SoftPlus as ovc emits them
    "fuse_normalization_patterns",  # mean/variance patterns into MVN, L2 patterns to NormalizeL2
    "remove_noop_nodes",         # again: the Add of zeros a BatchNorm without shift leaves once
                                 # folded and fused into the conv (ovc's IR has none)
    "flatten_nested_concats",    # Concat(a, Concat(b, c)) on one axis: one Concat (Inception)
    "constant_folding",
    "compress_fp16",             # last: store f32 constants as f16 with a decompression Convert
]

# What --disable_fusing switches off: folding linear ops and the input's channel reversal into
# convolutions.
FUSING = frozenset({"fold_reverse_channels", "fuse_linear_into_conv", "fuse_linear_into_matmul",
                    "merge_constant_chains", "fuse_activation_patterns",
                    "fuse_normalization_patterns", "fold_pad_into_window",
                    "fuse_grouped_convolution"})
# What --disable_gfusing switches off: passes that fuse ops into a GroupConvolution (as mo's
# Split -> Convolutions -> Concat fusing).
GROUPED_FUSING: frozenset[str] = frozenset({"fuse_grouped_convolution"})

PassRun = Callable[[Graph, ConversionOptions], int]


class UserPass(NamedTuple):
    """A pass from `--extensions`: `run` goes right before or after the first `anchor` of
    `PIPELINE` (`where` is "before" or "after")."""

    name: str
    run: PassRun
    anchor: str
    where: str


class PassStep(NamedTuple):
    """What one pass did: the `--steps` line."""

    name: str
    nodes_before: int
    nodes_after: int
    rewrites: int
    seconds: float

    def describe(self) -> str:
        return (f"pass {self.name}: {self.nodes_before} -> {self.nodes_after} nodes, "
                f"{self.rewrites} rewrite(s), {self.seconds * 1000:.1f} ms")


def active_passes(options: ConversionOptions) -> list[str]:
    """The passes of `PIPELINE` these options leave on, in order."""
    off: set[str] = set()
    if options.disable_fusing:
        off |= FUSING
    if options.disable_gfusing:
        off |= GROUPED_FUSING
    return [name for name in PIPELINE if name not in off]


def planned_passes(options: ConversionOptions,
                   user_passes: Sequence[UserPass] = ()) -> list[tuple[str, PassRun]]:
    """(name, run) of every pass to run, in order: the active built-in passes with the user's
    placed beside their anchors (a user pass stays even when its anchor is switched off)."""
    active = active_passes(options)
    placed: list[tuple[str, PassRun | None]] = [(name, None) for name in PIPELINE]
    for user in user_passes:
        if user.anchor not in PIPELINE:
            raise InternalError(f"user pass {user.name} is placed {user.where} "
                                f"{user.anchor!r}, which is not a pass of the pipeline")
        index = next(i for i, (name, run) in enumerate(placed)
                     if name == user.anchor and run is None)
        if user.where == "after":  # after the anchor and the user passes already placed there
            index += 1
            while index < len(placed) and placed[index][1] is not None:
                index += 1
        placed.insert(index, (user.name, user.run))
    plan, remaining = [], list(active)
    for name, run in placed:
        if run is not None:
            plan.append((name, run))
        elif remaining and remaining[0] == name:
            remaining.pop(0)
            plan.append((name, _builtin(name)))
    return plan


def _builtin(name: str) -> PassRun:
    return importlib.import_module(f"{__name__}.{name}").run


def run_passes(graph: Graph, options: ConversionOptions,
               user_passes: Sequence[UserPass] = ()) -> list[PassStep]:
    """Run every planned pass once, in order, under the pass contract; return what each did."""
    steps = []
    level = logging.INFO if options.steps else logging.DEBUG
    for name, run in planned_passes(options, user_passes):
        step = _run_one(graph, options, name, run)
        log.log(level, "%s", step.describe())
        steps.append(step)
    return steps


def _run_one(graph: Graph, options: ConversionOptions, name: str, run: PassRun) -> PassStep:
    stage = f"pass {name}"
    before = interface(graph)
    nodes_before = len(graph.nodes())
    started = time.perf_counter()
    with attributed(stage=stage, doing="the pass"):
        try:
            rewrites = run(graph, options)
            graph.infer_shapes()
        except ShapeMismatchError as exc:
            raise InternalError(f"the pass left shapes that do not fit: {exc.detail}",
                                stage=stage, node=exc.node) from exc
    seconds = time.perf_counter() - started
    check_interface_kept(before, interface(graph), stage)
    return PassStep(name, nodes_before, len(graph.nodes()), int(rewrites or 0), seconds)


# -- the pass contract: the model's inputs and outputs stay as they were -------------------------
class Port(NamedTuple):
    """One tensor of the model's interface as a pass must leave it."""

    kind: str             # "input" or "output"
    names: tuple[str, ...]
    shape: Shape
    element_type: str | None

    def describe(self) -> str:
        return f"{self.kind} {', '.join(self.names)}"

    def value(self) -> str:
        shape = "of unknown rank" if self.shape is None else str(list(self.shape))
        return f"{self.element_type} {shape}"


def interface(graph: Graph) -> list[Port]:
    """Every Parameter, then every graph output (what each Result reads)."""
    ports = [_port("input", node, node.outputs[0]) for node in graph.parameters]
    ports += [_port("output", result, source.info)
              for result in graph.results for source in result.inputs]
    return ports


def _port(kind: str, node: Node, info) -> Port:
    return Port(kind, tuple(sorted(info.names)) or (node.name,), info.shape, info.element_type)


def check_interface_kept(before: list[Port], after: list[Port], stage: str) -> None:
    """InternalError when a pass changed the model's interface (see the module's docstring)."""
    if [p.kind for p in before] != [p.kind for p in after]:
        raise InternalError(f"the pass changed the model's interface from "
                            f"{_counts(before)} to {_counts(after)}", stage=stage)
    for old, new in zip(before, after):
        if not _kept(old, new):
            raise InternalError(f"the pass changed {old.describe()} from {old.value()} to "
                                f"{new.value()}; a pass may not change the model's inputs or "
                                f"outputs", stage=stage)


def _counts(ports: list[Port]) -> str:
    inputs = sum(p.kind == "input" for p in ports)
    return f"{inputs} input(s) and {len(ports) - inputs} output(s)"


def _kept(old: Port, new: Port) -> bool:
    if old.kind == "input":
        return (new.shape, new.element_type) == (old.shape, old.element_type)
    if old.element_type is not None and new.element_type != old.element_type:
        return False
    return _refines(old.shape, new.shape)


def _refines(old: Shape, new: Shape) -> bool:
    """`new` says what `old` says or more: a dynamic dimension may become static, an unknown
    rank known; no static dimension may change."""
    if old is None:
        return True
    return new is not None and len(new) == len(old) and all(
        o in (-1, n) for o, n in zip(old, new))
