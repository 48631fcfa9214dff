"""The whole suite at a given scale: every benchmark in order, as rows of one table."""
from __future__ import annotations

import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from . import conversion, download, inference, ir, remote, ssd, zoo
from . import distributed as dask_executor
from .models import BenchModel, conversion_models, ir_models
from .report import Row


@dataclass(frozen=True)
class Scale:
    """How big each benchmark is. `FULL` is what `python -m bench` runs."""

    convert_repeats: int = 5
    noop_models: int = 100
    noop_repeats: int = 5
    download_mb: int = 500
    download_repeats: int = 5
    cold_models: int = 20
    inference_rounds: int = 3
    inference_runs: int = 20
    inference_seconds: float = 1.5
    ir_rounds: int = 10
    ir_runs: int = 20
    ir_models: int | None = None      # how many of `models.ir_models` (None: all)


FULL = Scale()
TINY = Scale(convert_repeats=1, noop_models=3, noop_repeats=1, download_mb=4, download_repeats=1,
             cold_models=2, inference_rounds=1, inference_runs=3, inference_seconds=0.2,
             ir_rounds=2, ir_runs=3, ir_models=2)
BENCHMARKS = ("convert", "inference", "ir", "ssd", "noop", "download", "cold", "remote", "dask")


def run_suite(scale: Scale, models: list[BenchModel] | None = None, seed: int = 0,
              only: set[str] | None = None, log: Callable[[str], None] = print,
              ssd_source: Path | None = None) -> list[Row]:
    """Run the selected benchmarks (all by default); `models` defaults to the seeded zoo (the
    `ir` benchmark's to issue 15's models), `ssd_source` to the project's test export (see
    `bench.ssd`)."""
    wanted = only or set(BENCHMARKS)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        irs = {}
        if wanted & {"convert", "inference"}:
            log("converting (ours vs ovc) ...")
            converted, irs = conversion.run(models or conversion_models(seed), work / "convert",
                                            scale.convert_repeats)
            rows += converted if "convert" in wanted else []
        if "inference" in wanted:
            log("inference (our IR vs ovc's IR) ...")
            rows += inference.run(irs, rounds=scale.inference_rounds, runs=scale.inference_runs,
                                  seconds=scale.inference_seconds)
        if "ir" in wanted:
            log("IR op counts and latency (our IR vs ovc's IR) ...")
            rows += ir.run(models or ir_models(seed, scale.ir_models), work / "ir",
                           rounds=scale.ir_rounds, runs=scale.ir_runs, converted=irs, log=log)
        if "ssd" in wanted:
            log("Object Detection API SSD (ours vs ovc) ...")
            rows += ssd.run(work / "ssd", scale.convert_repeats, scale.inference_runs, ssd_source)
        if "noop" in wanted:
            log(f"no-op and incremental doit on {scale.noop_models} models ...")
            rows += zoo.noop_and_incremental(work / "zoo", scale.noop_models, scale.noop_repeats)
        if "download" in wanted:
            log(f"download {scale.download_mb} MB (ours vs curl) ...")
            rows += download.run(scale.download_mb, scale.download_repeats)
        if "cold" in wanted:
            log(f"cold build of {scale.cold_models} models, -n 1 and -n 2 ...")
            rows += zoo.cold_build(work / "cold", scale.cold_models)
        if "remote" in wanted:
            log(f"a fresh clone restoring {scale.noop_models} models from the remote cache ...")
            rows += remote.run(work / "remote", scale.noop_models)
        if "dask" in wanted:
            log(f"cold build of {scale.cold_models} models, dask=local:2 vs -n 2 ...")
            rows += dask_executor.overhead(work / "dask", scale.cold_models)
    return rows


def meta(scale: Scale, seed: int) -> dict:
    return {"scale": asdict(scale), "seed": seed, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "python": platform.python_version(), "machine": platform.machine()}
