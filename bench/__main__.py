"""`python -m bench`: run the suite, print the table, write bench/results.{json,md}."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import report
from .suite import BENCHMARKS, FULL, TINY, meta, run_suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated models")
    parser.add_argument("--only", action="append", choices=BENCHMARKS,
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--ssd", type=Path, help="an Object Detection API export (.tar.gz or "
                        "folder) for the ssd benchmark; default: the project's test export")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent,
                        help="folder for results.json and results.md")
    args = parser.parse_args(argv)
    scale = TINY if args.tiny else FULL
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    rows = run_suite(scale, seed=args.seed, only=set(args.only or BENCHMARKS), log=log,
                     ssd_source=args.ssd)
    report.write(rows, args.out, meta(scale, args.seed))
    print(report.markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
