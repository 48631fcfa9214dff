"""Benchmark: an Object Detection API SSD, ours against `ovc`.

ovc converts the export as it is: the Preprocessor's resize loop and the Postprocessor's
per-class NMS loop stay in the IR as `Loop`s, which dominate inference. Ours cuts the one and
replaces the other by a single `DetectionOutput`, as the Model Optimizer did. Measured side by
side: whole-process conversion time and peak RSS (alternating runs), and the IR's CPU latency
(median of synchronous batch-1 runs on the same image, f32).

The export is the project's test archive by default; `python -m bench --only ssd --ssd PATH`
takes another (a `.tar.gz` of the detection zoo's layout, or its unpacked folder), such as a
full-size ssd_mobilenet_v2_coco export.
"""
from __future__ import annotations

import statistics
import tarfile
import time
from pathlib import Path

from .conversion import OVC, convert_pair
from .measure import PROJECT
from .report import Row

DEFAULT_ARCHIVE = PROJECT / "tests" / "data" / "ssd_mobilenet_v2_tiny_voc.tar.gz"


def export_folder(source: Path, work: Path) -> Path:
    """The folder holding frozen_inference_graph.pb and pipeline.config."""
    if source.is_file():
        with tarfile.open(source) as archive:
            archive.extractall(work / "export", filter="data")
        source = work / "export"
    return next(p.parent for p in sorted(source.rglob("frozen_inference_graph.pb")))


def ours_command(folder: Path, out_dir: Path) -> list[str]:
    import sys

    return [sys.executable, "-m", "converter", "--input_model", str(folder / "frozen_inference_graph.pb"),
            "--tensorflow_object_detection_api_pipeline_config", str(folder / "pipeline.config"),
            "--reverse_input_channels", "--output_dir", str(out_dir), "--model_name", "model"]


def ovc_command(folder: Path, out_dir: Path) -> list[str]:
    return [OVC, str(folder / "frozen_inference_graph.pb"), "--output_model",
            str(out_dir / "model.xml"), "--compress_to_fp16=False"]


def _latency_ms(core, xml: Path, shape: list[int], runs: int) -> list[float]:
    import numpy as np

    model = core.read_model(str(xml))
    if model.is_dynamic():
        model.reshape({model.inputs[0]: shape})
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                 "PERFORMANCE_HINT": "LATENCY"})
    image = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    request = compiled.create_infer_request()
    request.infer([image])  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        request.infer([image])
        times.append((time.perf_counter() - started) * 1000)
    return times


def run(work: Path, repeats: int, runs: int, source: Path | None = None) -> list[Row]:
    from modelzoo.runtime import import_openvino

    work.mkdir(parents=True, exist_ok=True)
    folder = export_folder(source or DEFAULT_ARCHIVE, work)
    pair = convert_pair(folder, work, repeats, ours_command, ovc_command)
    core = import_openvino().Core()
    ours_xml, peer_xml = work / "ours" / "model.xml", work / "ovc" / "model.xml"
    shape = [int(d) for d in core.read_model(str(ours_xml)).inputs[0].get_shape()]
    latency = {"ours": [], "peer": []}
    for _ in range(max(1, repeats)):  # alternate, so noise hits both
        latency["ours"] += _latency_ms(core, ours_xml, shape, runs)
        latency["peer"] += _latency_ms(core, peer_xml, shape, runs)
    name = f"SSD {folder.name} {shape[1]}x{shape[2]}"
    return [Row("ssd", f"{name} convert wall time", pair.median("ours"), pair.median("peer"), "s",
                "<= 0.5", f"{repeats} alternating runs each"),
            Row("ssd", f"{name} convert peak RSS", pair.median("ours", "peak_mb"),
                pair.median("peer", "peak_mb"), "MB", "<= 0.8"),
            Row("ssd", f"{name} IR latency (median, batch 1)", statistics.median(latency["ours"]),
                statistics.median(latency["peer"]), "ms", "<= 0.1",
                "ours: one DetectionOutput; ovc: the export's loops")]
