"""The shared answer of every fusing pass to "may I fuse this node?" (mo's --finegrain_fusing).

`--finegrain_fusing REGEX[,REGEX...]` names nodes the fusing passes must leave alone: a node
whose whole name matches one of the expressions (`Convolution1`, `.*Scale.*`) is neither fused
into another node nor has another fused into it, so it stays in the IR as it was. A fusing pass
asks once per candidate rewrite:

    guard = fusing_guard(options)
    ...
    if not guard.allows(conv, multiply):
        continue

A rewrite asks about every node it would fuse away or fuse into, so that naming any node of a
pattern (the Multiply of a scale-shift, the Pad before a Convolution, the Sigmoid of a Swish)
keeps the whole pattern as it was. `nodes_between` lists the nodes a one-op fusion replaces, for
passes that match a pattern without recording its nodes.

`--disable_fusing` switches the fusing passes off entirely (see `passes.FUSING`); this is the
fine-grained form of the same request.
"""
from __future__ import annotations

import logging
import re
from typing import Iterable

from ..graph import Node, Output

log = logging.getLogger(__name__)


class FusingGuard:
    """The node-name expressions of `--finegrain_fusing`, compiled once per pass run."""

    def __init__(self, patterns: tuple[str, ...] = ()):
        self.patterns = [re.compile(p) for p in patterns]
        self.kept: set[str] = set()   # names of the nodes a pass left alone, for the log

    def allows(self, *nodes: Node) -> bool:
        """Whether a rewrite that fuses these nodes together may happen."""
        protected = [n.name for n in nodes if self.protects(n.name)]
        if protected:
            new = set(protected) - self.kept
            if new:
                log.debug("finegrain_fusing: left %s unfused", ", ".join(sorted(new)))
            self.kept |= new
        return not protected

    def protects(self, name: str) -> bool:
        return any(p.fullmatch(name) for p in self.patterns)


def fusing_guard(options) -> FusingGuard:
    """The guard for `options` (None: every node may be fused)."""
    return FusingGuard(getattr(options, "finegrain_fusing", ()) or ())


def nodes_between(root: Node, kept: Iterable[Output]) -> list[Node]:
    """`root` and every node it reads, back to the outputs in `kept` (the fused op's inputs, which
    stay in the graph) and to constants: the nodes a fusion rooted at `root` replaces."""
    stops = set(kept)
    found: dict[int, Node] = {}
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in found:
            continue
        found[id(node)] = node
        pending.extend(source.node for source in node.inputs
                       if source not in stops and source.value is None)
    return list(found.values())
