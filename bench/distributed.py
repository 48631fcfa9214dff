"""Benchmark: the Dask executor's overhead per task on a cold build (issue #18, part 3).

The same generated zoo (`bench.zoo.write_zoo`: tiny all-different ONNX models, five tasks each:
download, unpack, prepare, convert, verify) is built cold twice per repeat, alternating: with
`doit -n 2 convert` (two local processes) and with `doit convert dask=local:2` (a LocalCluster of
two worker processes, started and closed by the command), each with a fresh cache and task
state. The figures: both wall times, the time the dask run spent starting and closing its
LocalCluster (from the lines `modelzoo.distributed` logs), the dask run without that time
against the local one, and the overhead per task, `(dask - local) / tasks`. Nothing is
asserted: the machine is shared and noisy.

    .venv/bin/python -m bench.distributed [--models 20] [--repeats 1]
    .venv/bin/python -m bench --only dask
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from .report import Row
from .zoo import doit, ran, write_zoo

STAGES = ("download:", "unpack:", "prepare:", "convert:", "verify:")
# What `modelzoo.distributed` logs when it starts and closes a LocalCluster.
_CLUSTER_TIMES = re.compile(r"dask: (?:started a LocalCluster of \d+ workers|closed the "
                            r"LocalCluster) in ([0-9.]+) s")


def cold_build(folder: Path, count: int, *args: str) -> tuple[float, int, float]:
    """A cold `doit ARGS convert` of a fresh `count`-model zoo: (seconds, tasks run, seconds
    spent starting and closing a LocalCluster)."""
    shutil.rmtree(folder, ignore_errors=True)
    manifest = write_zoo(folder, count, seed=7)
    run, _ = doit(manifest, *args)
    cluster = sum(float(seconds) for seconds in _CLUSTER_TIMES.findall(run.err))
    return run.seconds, sum(len(ran(run, stage)) for stage in STAGES), cluster


def overhead(work: Path, count: int, repeats: int = 1) -> list[Row]:
    """The rows: the two cold builds, the cluster's start and close, and the overhead per
    task (see the module docstring)."""
    local, dask, cluster, tasks = [], [], [], 0
    for repeat in range(repeats):
        seconds, tasks, _ = cold_build(work / f"local-{repeat}", count, "-n", "2")
        local.append(seconds)
        seconds, dask_tasks, cluster_seconds = cold_build(work / f"dask-{repeat}", count,
                                                          "dask=local:2")
        dask.append(seconds)
        cluster.append(cluster_seconds)
        if dask_tasks != tasks:
            raise RuntimeError(f"the dask build ran {dask_tasks} tasks, the local one {tasks}")
    local_s, dask_s, cluster_s = (statistics.median(v) for v in (local, dask, cluster))
    without_cluster = (dask_s - cluster_s - local_s) / tasks * 1000
    return [
        Row("dask", f"cold build, {count} models: dask=local:2 vs -n 2", dask_s, local_s, "s", "",
            f"median of {repeats}; {tasks} tasks each; fresh cache and task state"),
        Row("dask", "LocalCluster of 2 workers: start and close", cluster_s, None, "s", "",
            "inside the dask run, as modelzoo.distributed logs it"),
        Row("dask", "cold build without the cluster's start and close", dask_s - cluster_s,
            local_s, "s", "", f"vs -n 2: {without_cluster:+.1f} ms per task (submit, wait, restore)"),
        Row("dask", "overhead per task", (dask_s - local_s) / tasks * 1000, None, "ms", "",
            "(dask - local) / tasks, the cluster's start and close included"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=20, help="models in the zoo (default 20)")
    parser.add_argument("--repeats", type=int, default=1, help="cold builds of each kind")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        rows = overhead(Path(tmp), args.models, args.repeats)
    for row in rows:
        peer = f" vs {row.peer:.3f} {row.unit}" if row.peer is not None else ""
        print(f"{row.figure}: {row.ours:.3f} {row.unit}{peer}  ({row.note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
