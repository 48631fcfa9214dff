"""Benchmark `ir`: is our IR as lean and as fast as ovc's IR of the same model (issue 15)?

Per model both sides convert it (`python -m converter` and `ovc --compress_to_fp16=False`, so
both IRs are f32), then:
- op count: the IR's layers, NOT counting Const, Parameter and Result (the same rule on both
  sides); the note gives the op types whose counts differ (ours minus ovc) and both Const counts;
- latency in OpenVINO (CPU, f32, LATENCY hint): the median of synchronous batch-1 runs, as the
  inference benchmark measures it, the two IRs compiled side by side and their runs alternating
  one by one, the side that goes first swapping every round;
- our IR against the source framework (TensorFlow, onnxruntime) by `python -m modelzoo.verify`
  in a child process: the max error relative to each output's range.
A model that one side does not convert gives one row saying so (`converts`: 0, target >= 1)
and the run goes on. A last row measures the first model's ovc IR against itself the same way:
the ratio noise alone gives on this machine, to read the 5 % latency target against.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

from .measure import PROJECT, ChildFailed, child_env
from .models import BenchModel
from .report import Row

NOT_COUNTED = frozenset({"Const", "Parameter", "Result"})
LATENCY_TARGET = "<= 1.05"
ERROR_TARGET = "<= 0.0001"


def op_histogram(xml: Path) -> Counter:
    """How many layers of each type the IR holds (Const, Parameter and Result included)."""
    root = ElementTree.parse(xml).getroot()
    return Counter(layer.get("type") for layer in root.iter("layer"))


def op_count(histogram: Counter) -> int:
    return sum(n for kind, n in histogram.items() if kind not in NOT_COUNTED)


def histogram_difference(ours: Counter, peer: Counter) -> str:
    """The op types whose counts differ, ours minus ovc's, largest first ("" when none)."""
    kinds = (set(ours) | set(peer)) - NOT_COUNTED
    diff = {kind: ours[kind] - peer[kind] for kind in kinds if ours[kind] != peer[kind]}
    ordered = sorted(diff.items(), key=lambda item: (-abs(item[1]), item[0]))
    return ", ".join(f"{kind} {delta:+d}" for kind, delta in ordered)


def count_row(name: str, ours: Counter, peer: Counter) -> Row:
    diff = histogram_difference(ours, peer) or "same op types and counts"
    note = f"ours-ovc: {diff}; Const {ours['Const']} vs {peer['Const']}"
    return Row("ir", f"{name} ops (no Const/Parameter/Result)", op_count(ours), op_count(peer),
               "ops", "<= 1", note)


def alternating_latencies(ours_xml: Path, peer_xml: Path, rounds: int, runs: int) -> dict[str, float]:
    """Median batch-1 latency (ms) of each IR over `rounds` x `runs` synchronous requests.
    Both IRs are compiled at once and their requests alternate one by one (the side going
    first swapping every round), so that a busy machine's noise, which comes and goes within
    milliseconds, falls on both sides alike."""
    from modelzoo.runtime import import_openvino

    from .conversion import static_like
    from .inference import _compile, _feeds

    core = import_openvino().Core()
    ours_model = static_like(core, ours_xml, core.read_model(str(ours_xml)))
    compiled = {"ours": _compile(core, ours_model, "LATENCY"),
                "peer": _compile(core, static_like(core, peer_xml, ours_model), "LATENCY")}
    requests = {side: (c.create_infer_request(), _feeds(c)) for side, c in compiled.items()}
    for request, feeds in requests.values():
        request.infer(feeds)  # warm-up
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for turn in range(rounds):
        order = ("ours", "peer") if turn % 2 == 0 else ("peer", "ours")
        for _ in range(runs):
            for side in order:
                request, feeds = requests[side]
                started = time.perf_counter()
                request.infer(feeds)
                times[side].append(time.perf_counter() - started)
    return {side: statistics.median(values) * 1000 for side, values in times.items()}


def latency_row(name: str, ours_xml: Path, peer_xml: Path, rounds: int, runs: int) -> Row:
    ms = alternating_latencies(ours_xml, peer_xml, rounds, runs)
    return Row("ir", f"{name} latency (median, batch 1)", ms["ours"], ms["peer"], "ms",
               LATENCY_TARGET, f"{rounds}x{runs} sync runs per IR, alternating run by run, f32")


def noise_row(name: str, peer_xml: Path, rounds: int, runs: int) -> Row:
    """ovc's IR against itself, measured the same way: how far from 1 a ratio strays by noise."""
    ms = alternating_latencies(peer_xml, peer_xml, rounds, runs)
    return Row("ir", f"latency noise: {name} ovc IR against itself", ms["ours"], ms["peer"], "ms",
               "", "the same method; how far from 1 noise alone moves a latency ratio")


def source_error(xml: Path, model: BenchModel) -> tuple[float, str]:
    """Our IR against the source model in its own framework: (max relative error, note)."""
    with tempfile.TemporaryDirectory(prefix="bench-ir-verify-") as tmp:
        report_path = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "modelzoo.verify", str(xml), str(model.path),
                   "--framework", model.framework, "--json", str(report_path)]
        done = subprocess.run(command, cwd=PROJECT, env=child_env(), capture_output=True,
                              text=True)
        if not report_path.exists():
            return float("inf"), _last_line(done.stderr or done.stdout)
        report = json.loads(report_path.read_text())
    error = report.get("max_rel_error")
    runtime = (report.get("reference") or {}).get("runtime", model.framework)
    if error is None:
        return float("inf"), f"nothing compared against {runtime}: {report.get('error')}"
    return float(error), f"against {runtime}, modelzoo.verify's seeded inputs"


def error_row(name: str, xml: Path, model: BenchModel) -> Row:
    error, note = source_error(xml, model)
    return Row("ir", f"{name} max rel. error vs source", error, None, "", ERROR_TARGET, note)


def failure_row(name: str, side: str, exc: Exception) -> Row:
    return Row("ir", f"{name} converts", 0.0, None, "", ">= 1",
               f"{side} failed: {_last_line(str(exc))}")


def _last_line(text: str, limit: int = 200) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else "no message"
    return line.replace("|", "/")[:limit]


class SideFailed(Exception):
    """One side could not convert the model, or OpenVINO could not run an IR."""

    def __init__(self, side: str, message: str):
        super().__init__(message)
        self.side = side


def convert_both(model: BenchModel, work: Path) -> tuple[Path, Path]:
    """Our IR and ovc's of `model`, one conversion each."""
    from .conversion import ours_command, ovc_command
    from .measure import run_child

    irs = []
    for side, command in (("ours", ours_command), ("ovc", ovc_command)):
        out = work / side
        out.mkdir(parents=True, exist_ok=True)
        try:
            run_child(command(model.path, out), cwd=PROJECT)
        except ChildFailed as exc:
            raise SideFailed(side, str(exc)) from None
        irs.append(out / "model.xml")
    return irs[0], irs[1]


def compare_model(model: BenchModel, ours_xml: Path, peer_xml: Path, rounds: int,
                  runs: int) -> list[Row]:
    rows = [count_row(model.name, op_histogram(ours_xml), op_histogram(peer_xml))]
    try:
        rows.append(latency_row(model.name, ours_xml, peer_xml, rounds, runs))
    except RuntimeError as exc:  # OpenVINO refusing to read or compile an IR
        raise SideFailed("OpenVINO", str(exc)) from None
    rows.append(error_row(model.name, ours_xml, model))
    return rows


def run(models: list[BenchModel], work: Path, *, rounds: int, runs: int,
        converted: dict[str, tuple[Path, Path]] | None = None,
        log=lambda text: None) -> list[Row]:
    """Rows for every model; `converted` holds IRs (ours, ovc's) this run already made, by name."""
    rows, noise = [], None
    for model in models:
        log(f"  ir: {model.name}")
        try:
            ours_xml, peer_xml = (converted or {}).get(model.name) or convert_both(
                model, work / model.name)
            rows += compare_model(model, ours_xml, peer_xml, rounds, runs)
        except SideFailed as exc:
            rows.append(failure_row(model.name, exc.side, exc))
            continue
        noise = noise or noise_row(model.name, peer_xml, rounds, runs)
    return rows + ([noise] if noise else [])
