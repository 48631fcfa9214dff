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
"""
from __future__ import annotations

import importlib
import logging
from typing import NamedTuple

from ..errors import InternalError, ShapeMismatchError, attributed
from ..graph import Graph, Node, Shape
from ..options import ConversionOptions

log = logging.getLogger(__name__)

# Order matters; each line says why it stands where it does.
PIPELINE = [
    "constant_folding",          # fold what frontends left computable (weight transposes, BN maths)
    "transpose_sinking",         # cancel the layout Transposes frontends put around NCHW-only ops
    "constant_folding",          # fold the constants the sinking rearranged
    "preprocessing",             # mean/scale/reverse-channels right after the inputs, before fusing
    "fold_reverse_channels",     # the Gather preprocessing just made into the first conv's weights,
                                 # while they are still plain f32 Consts (before compress_fp16)
    "fuse_linear_into_conv",     # Multiply by a per-channel constant folds into conv weights
    "constant_folding",
    "compress_fp16",             # last: store f32 constants as f16 with a decompression Convert
]

# What --disable_fusing switches off: folding linear ops and the input's channel reversal into
# convolutions.
FUSING = frozenset({"fold_reverse_channels", "fuse_linear_into_conv"})
# What --disable_gfusing switches off: passes that fuse ops into a GroupConvolution (as mo's
# Split -> Convolutions -> Concat fusing). This converter has none yet.
GROUPED_FUSING: frozenset[str] = frozenset()


def active_passes(options: ConversionOptions) -> list[str]:
    """The passes of `PIPELINE` these options leave on, in order."""
    off: set[str] = set()
    if options.disable_fusing:
        off |= FUSING
    if options.disable_gfusing:
        off |= GROUPED_FUSING
        if not GROUPED_FUSING:
            log.warning("disable_gfusing: this converter does no grouped-convolution fusing, so "
                        "there is none to disable; the IR is the same as without the flag")
    return [name for name in PIPELINE if name not in off]


def run_passes(graph: Graph, options: ConversionOptions) -> None:
    for name in active_passes(options):
        module = importlib.import_module(f"{__name__}.{name}")
        stage = f"pass {name}"
        before = interface(graph)
        with attributed(stage=stage, doing="the pass"):
            try:
                rewrites = module.run(graph, options)
                graph.infer_shapes()
            except ShapeMismatchError as exc:
                raise InternalError(f"the pass left shapes that do not fit: {exc.detail}",
                                    stage=stage, node=exc.node) from exc
        check_interface_kept(before, interface(graph), stage)
        log.debug("pass %s: %d rewrite(s), %d nodes", name, rewrites, len(graph.nodes()))


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
