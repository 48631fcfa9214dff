"""The suite's results: rows of (benchmark, figure, ours, peer, ratio, target), as JSON and markdown."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Row:
    """One figure. `ratio` is ours/peer; `target` reads like "<= 0.7" (empty when none)."""

    bench: str
    figure: str
    ours: float
    peer: float | None = None
    unit: str = ""
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer is None or not self.peer:
            return None
        return self.ours / self.peer

    @property
    def met(self) -> bool | None:
        """Whether the target holds; a target without a peer applies to `ours` itself."""
        if not self.target:
            return None
        op, bound = self.target.split()
        value = self.ratio if self.peer is not None else self.ours
        if value is None or math.isnan(value):
            return False
        return value <= float(bound) if op == "<=" else value >= float(bound)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def markdown(rows: list[Row]) -> str:
    head = ["benchmark", "figure", "ours", "peer", "unit", "ours/peer", "target", "met", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        met = {None: "", True: "yes", False: "**no**"}[row.met]
        cells = [row.bench, row.figure, _number(row.ours), _number(row.peer), row.unit,
                 _number(row.ratio), row.target, met, row.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write(rows: list[Row], folder: Path, meta: dict) -> None:
    records = [dict(asdict(r), ratio=r.ratio, met=r.met) for r in rows]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps({"meta": meta, "rows": records}, indent=1))
    (folder / "results.md").write_text(markdown(rows))
