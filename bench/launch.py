"""`python -m bench.launch RESULT CMD...`: run CMD, write its wall time and peak RSS to RESULT.

Linux carries a process's peak RSS across fork and exec, so a child forked straight from the
benchmark (which grows to hundreds of MB once OpenVINO has compiled a model) would report at
least the benchmark's own size. This launcher is a fresh, small process: the command it forks
starts its accounting from the launcher's few MB, and `os.wait4` reads exactly that child's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    result, cmd = argv[0], argv[1:]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as handle:
        json.dump({"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "code": code}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
