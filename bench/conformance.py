"""`python -m bench.conformance`: the onnx wheel's conformance cases, converted by ours and by
ovc, each IR run in OpenVINO and checked against the expected outputs, side by side.

    python -m bench.conformance [--suite node|simple|pytorch-converted|pytorch-operator ...]
                                [--only REGEX] [--jobs N] [--timeout S] [--out DIR]

Cases: the node cases of `onnx.backend.test.case.node` (one operator each) and the model folders
of `onnx/backend/test/data/{simple,pytorch-converted,pytorch-operator}`. Each side of each case
runs in a worker process (see `bench.conformance_pool`), so a crash or a hang fails that check
alone. Writes results.json and results.md to --out and prints the table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import conformance_report
from .conformance_cases import SUITES, Case, collect
from .conformance_check import SIDES, Outcome

DEFAULT_OUT = Path(__file__).parent / "conformance-results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.conformance",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="append", choices=SUITES,
                        help="run only this suite (repeatable; default: all)")
    parser.add_argument("--only", metavar="REGEX", help="only cases whose name matches")
    parser.add_argument("--side", action="append", choices=SIDES,
                        help="convert with this side only (repeatable; default: both)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one side of one case may take (default 120)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for results.json and results.md (default {DEFAULT_OUT})")
    return parser.parse_args(argv)


def run(suites: tuple[str, ...] = SUITES, only: str | None = None, jobs: int = 2,
        timeout: float = 120.0, sides: tuple[str, ...] = SIDES,
        log=lambda text: None) -> list[dict]:
    """Every selected case checked with every side; one dict per case, in collection order."""
    from .conformance_pool import run_all

    cases = collect(suites, only)
    records = [case_record(case) for case in cases]
    tasks = [(index, case, side) for index, case in enumerate(cases) for side in sides]
    log(f"{len(cases)} cases, {len(tasks)} checks on {jobs} workers ...")
    progress = Progress(len(tasks), log)

    def record(index: int, side: str, outcome: Outcome) -> None:
        records[index][side] = outcome.to_json()
        progress.step()

    run_all(tasks, jobs, timeout, record)
    return records


def case_record(case: Case) -> dict:
    return {"suite": case.suite, "name": case.name, "operator": case.operator,
            "rtol": case.rtol, "atol": case.atol}


class Progress:
    """A line to the log every tenth of the run (and at its end)."""

    def __init__(self, total: int, log):
        self.total, self.done, self.log = total, 0, log
        self.started = time.monotonic()
        self.every = max(1, total // 10)

    def step(self) -> None:
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            self.log(f"  {self.done}/{self.total} checks, {time.monotonic() - self.started:.0f} s")


def meta(suites, only, jobs, timeout, seconds: float) -> dict:
    import onnx
    import openvino

    return {"onnx": onnx.__version__, "openvino": openvino.get_version(), "suites": list(suites),
            "only": only, "jobs": jobs, "timeout": timeout, "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suites = tuple(args.suite or SUITES)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    started = time.monotonic()
    records = run(suites, args.only, args.jobs, args.timeout, tuple(args.side or SIDES), log)
    if not records:
        log("no case matches")
        return 1
    conformance_report.write(records, meta(suites, args.only, args.jobs, args.timeout,
                                           time.monotonic() - started), args.out)
    print(conformance_report.table(records))
    log(f"written {args.out / 'results.md'} and results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
