"""The shared answer of every fusing pass to "may I fuse this node?" (mo's --finegrain_fusing).

`--finegrain_fusing REGEX[,REGEX...]` names nodes the fusing passes must leave alone: a node
whose whole name matches one of the expressions (`Convolution1`, `.*Scale.*`) is neither fused
into another node nor has another fused into it, so it stays in the IR as it was. A fusing pass
asks once per candidate rewrite:

    guard = fusing_guard(options)
    ...
    if not guard.allows(conv, multiply):
        continue

`--disable_fusing` switches the fusing passes off entirely (see `passes.FUSING`); this is the
fine-grained form of the same request.
"""
from __future__ import annotations

import logging
import re

from ..graph import Node

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
