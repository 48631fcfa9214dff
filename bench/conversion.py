"""Benchmark 1: whole-process conversion, ours vs `ovc`, and whether our IR computes the same.

Each run is a fresh process (`python -m converter` against `ovc`), alternating, timed and
measured for peak RSS by the kernel. Afterwards both IRs run in OpenVINO (CPU, f32) on the same
seeded input and the largest difference, relative to the output's range, is reported.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from .measure import PROJECT, Pair, alternate, run_child
from .models import BenchModel
from .report import Row

OVC = str(Path(sys.executable).parent / "ovc")


def ours_command(model: Path, out_dir: Path) -> list[str]:
    return [sys.executable, "-m", "converter", "--input_model", str(model),
            "--output_dir", str(out_dir), "--model_name", "model"]


def ovc_command(model: Path, out_dir: Path) -> list[str]:
    return [OVC, str(model), "--output_model", str(out_dir / "model.xml"), "--compress_to_fp16=False"]


def convert_pair(model: Path, work: Path, repeats: int, ours=ours_command, peer=ovc_command) -> Pair:
    """Alternating conversions; the last IR of each side stays in `work/ours` and `work/ovc`.
    `ours` and `peer` make each side's command from (model, output folder)."""
    def once(side: str, command) -> callable:
        def run():
            out = work / side
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            return run_child(command(model, out), cwd=PROJECT)
        return run

    return alternate(once("ours", ours), once("ovc", peer), repeats)


def max_relative_error(ours_xml: Path, peer_xml: Path, seed: int = 0) -> float:
    """Largest |ours - peer| over every output (paired by position), relative to peer's range."""
    import numpy as np

    from modelzoo.runtime import F32_CONFIG, import_openvino
    from modelzoo.verify import output_errors

    core = import_openvino().Core()
    ours_model = static_like(core, ours_xml, core.read_model(str(ours_xml)))
    compiled = [core.compile_model(m, "CPU", F32_CONFIG)
                for m in (ours_model, static_like(core, peer_xml, ours_model))]
    rng = np.random.default_rng(seed)
    feeds = [rng.standard_normal(list(port.shape)).astype(np.float32) for port in compiled[0].inputs]
    ours, peer = (c(feeds) for c in compiled)
    errors = [output_errors(np.asarray(ours[a]), np.asarray(peer[b]))[1]
              for a, b in zip(compiled[0].outputs, compiled[1].outputs)]
    return max(errors)


def static_like(core, xml: Path, reference):
    """The model at `xml` with static inputs: `reference`'s shapes, dynamic dims (batch) as 1."""
    model = core.read_model(str(xml))
    if model.is_dynamic():
        shapes = [[d.get_length() if d.is_static else 1 for d in ref.get_partial_shape()]
                  for ref in reference.inputs]
        model.reshape({port: shape for port, shape in zip(model.inputs, shapes)})
    return model


def run(models: list[BenchModel], work: Path, repeats: int) -> tuple[list[Row], dict[str, tuple[Path, Path]]]:
    """Rows for every model, and where each side's IR is (for the inference benchmark)."""
    rows, irs = [], {}
    for model in models:
        folder = work / model.name
        pair = convert_pair(model.path, folder, repeats)
        ours_xml, peer_xml = folder / "ours" / "model.xml", folder / "ovc" / "model.xml"
        irs[model.name] = (ours_xml, peer_xml)
        size = _size_mb(model.path)
        note = f"{size:.0f} MB source, {repeats} alternating runs each"
        rows += [Row("convert", f"{model.name} wall time", pair.median("ours"), pair.median("peer"),
                     "s", "<= 0.7", note),
                 Row("convert", f"{model.name} peak RSS", pair.median("ours", "peak_mb"),
                     pair.median("peer", "peak_mb"), "MB", "<= 0.8"),
                 Row("convert", f"{model.name} max rel. error vs ovc IR",
                     max_relative_error(ours_xml, peer_xml), None, "", "<= 0.0001",
                     "OpenVINO CPU f32, same seeded input")]
    return rows, irs


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def scratch() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="bench-convert-")
