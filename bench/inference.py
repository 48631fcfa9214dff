"""Benchmark 5: OpenVINO CPU inference of our IR against ovc's IR of the same model.

Latency: median of synchronous batch-1 requests (f32, LATENCY hint). Throughput: inferences
per second through an AsyncInferQueue with the THROUGHPUT hint for a fixed time. The two IRs
alternate in rounds so that both see the same machine noise.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from .report import Row

F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _compile(core, model, hint: str):
    return core.compile_model(model, "CPU", dict(F32, PERFORMANCE_HINT=hint))


def _feeds(compiled, seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.standard_normal(list(p.shape)).astype(np.float32) for p in compiled.inputs]


def latencies(compiled, runs: int) -> list[float]:
    request, feeds = compiled.create_infer_request(), _feeds(compiled)
    request.infer(feeds)  # warm-up
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        request.infer(feeds)
        out.append(time.perf_counter() - started)
    return out


def throughput(compiled, seconds: float) -> float:
    from openvino import AsyncInferQueue

    queue, feeds = AsyncInferQueue(compiled), _feeds(compiled)
    for _ in range(len(queue)):
        queue.start_async(feeds)  # warm-up
    queue.wait_all()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        queue.start_async(feeds)
        done += 1
    queue.wait_all()
    return done / (time.perf_counter() - started)


def compare(name: str, ours_xml: Path, peer_xml: Path, *, rounds: int = 3, runs: int = 20,
            seconds: float = 1.5) -> list[Row]:
    from modelzoo.runtime import import_openvino

    from .conversion import static_like

    core = import_openvino().Core()
    ours_model = static_like(core, ours_xml, core.read_model(str(ours_xml)))
    models = (("ours", ours_model), ("peer", static_like(core, peer_xml, ours_model)))
    lat = {"ours": [], "peer": []}
    fps = {"ours": [], "peer": []}
    for _ in range(rounds):
        for side, model in models:
            lat[side] += latencies(_compile(core, model, "LATENCY"), runs)
    for _ in range(rounds):
        for side, model in models:
            fps[side].append(throughput(_compile(core, model, "THROUGHPUT"), seconds))
    ms = {side: statistics.median(v) * 1000 for side, v in lat.items()}
    ips = {side: statistics.median(v) for side, v in fps.items()}
    return [Row("inference", f"{name} latency (median, batch 1)", ms["ours"], ms["peer"], "ms", "",
                f"{rounds}x{runs} sync runs, f32"),
            Row("inference", f"{name} throughput", ips["ours"], ips["peer"], "inf/s", "",
                f"THROUGHPUT hint, {rounds}x{seconds:g} s")]


def run(irs: dict[str, tuple[Path, Path]], **kwargs) -> list[Row]:
    rows = []
    for name, (ours, peer) in irs.items():
        rows += compare(name, ours, peer, **kwargs)
    return rows
