"""Measuring child processes: wall time and the OS's peak resident memory, alternating pairs.

Each run is a child process reaped with `os.wait4` by a small launcher (`bench.launch`), so
its rusage is that child's own (and its reaped descendants'): the peak memory of one run never
mixes with another's, nor with this process's. Comparisons
alternate ours and the peer's runs, so a noisy neighbour slows both sides alike.
"""
from __future__ import annotations

import json
import os
import sys
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

PROJECT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    seconds: float
    peak_mb: float
    code: int
    out: str = ""
    err: str = ""


class ChildFailed(RuntimeError):
    """A measured command exited non-zero; the message holds the end of its stderr."""


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_child(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
              check: bool = True) -> Run:
    """Run `cmd` to the end; its wall time and peak RSS (MB) from the kernel's accounting,
    measured by `bench.launch` (see there why not from this process)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as result:
        launcher = [sys.executable, "-m", "bench.launch", result.name, *map(str, cmd)]
        subprocess.run(launcher, cwd=cwd or PROJECT, env=env or child_env(), stdout=out, stderr=err,
                       check=True)
        measured = json.load(result)
        out.seek(0)
        err.seek(0)
        out_text, err_text = out.read(), err.read()
    seconds, peak, code = measured["seconds"], measured["peak_mb"], measured["code"]
    if check and code != 0:
        raise ChildFailed(f"{' '.join(map(str, cmd))} exited {code}:\n{err_text[-3000:]}")
    return Run(seconds, peak, code, out_text, err_text)


@dataclass
class Pair:
    """Alternating runs of ours and the peer's; medians and the ratios ours/peer."""

    ours: list[Run] = field(default_factory=list)
    peer: list[Run] = field(default_factory=list)

    @staticmethod
    def _median(runs: list[Run], attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in runs)

    def median(self, side: str, attr: str = "seconds") -> float:
        return self._median(getattr(self, side), attr)

    def ratio(self, attr: str = "seconds") -> float:
        return self.median("ours", attr) / self.median("peer", attr)


def alternate(ours: Callable[[], Run], peer: Callable[[], Run], repeats: int) -> Pair:
    """`repeats` runs of each, interleaved ours, peer, ours, peer, ..."""
    pair = Pair()
    for _ in range(repeats):
        pair.ours.append(ours())
        pair.peer.append(peer())
    return pair
