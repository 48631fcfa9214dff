"""The benchmark suite's machinery at a tiny scale: every row present and sane, no timings asserted."""
from __future__ import annotations

import json
import math

import pytest

from bench import report
from bench.models import BenchModel, tiny_onnx_bytes
from bench.suite import TINY, run_suite

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-model")
    path = folder / "tiny.onnx"
    path.write_bytes(tiny_onnx_bytes(3, size=16))
    return run_suite(TINY, models=[BenchModel("tiny-onnx", path, "onnx")], log=lambda _: None)


def test_every_benchmark_has_its_rows(rows):
    figures = {(row.bench, row.figure) for row in rows}
    for bench in ("convert", "inference", "ir", "ssd", "no-op", "incremental", "download",
                  "cold build"):
        assert any(b == bench for b, _ in figures), bench
    assert ("convert", "tiny-onnx wall time") in figures
    assert ("convert", "tiny-onnx peak RSS") in figures
    assert ("no-op", "doit convert, 3 models built") in figures


def test_ratios_are_positive_and_finite(rows):
    for row in rows:
        assert math.isfinite(row.ours) and row.ours >= 0, row
        if row.peer is not None:
            assert row.ratio > 0 and math.isfinite(row.ratio), row


def test_noop_imports_nothing_heavy_and_incremental_converts_one(rows):
    by_figure = {row.figure: row for row in rows}
    assert by_figure["no numpy/onnx/TF/openvino imported"].met, by_figure["no numpy/onnx/TF/openvino imported"].note
    assert by_figure["only that model converted"].met


def test_our_ir_matches_ovc(rows):
    error = next(r for r in rows if r.figure.endswith("max rel. error vs ovc IR"))
    assert error.met, error.ours


def test_table_and_json(rows, tmp_path):
    report.write(rows, tmp_path, {"scale": "tiny"})
    table = (tmp_path / "results.md").read_text().splitlines()
    assert len(table) == len(rows) + 2
    assert all(line.startswith("|") and line.endswith("|") for line in table)
    records = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert [r["figure"] for r in records] == [r.figure for r in rows]


def test_ir_benchmark_compares_op_counts_latency_and_source(rows):
    ir_rows = {row.figure: row for row in rows if row.bench == "ir"}
    assert set(ir_rows) == {"tiny-onnx ops (no Const/Parameter/Result)",
                            "tiny-onnx latency (median, batch 1)",
                            "tiny-onnx max rel. error vs source",
                            "latency noise: tiny-onnx ovc IR against itself"}
    ops = ir_rows["tiny-onnx ops (no Const/Parameter/Result)"]
    # Conv(+bias Add), Relu, ReduceMean, Reshape, MatMul, Add on each side, whatever the order
    assert ops.ours >= 5 and ops.peer >= 5 and ops.unit == "ops" and ops.target == "<= 1"
    assert "Const" in ops.note
    latency = ir_rows["tiny-onnx latency (median, batch 1)"]
    assert latency.ours > 0 and latency.peer > 0 and latency.unit == "ms"
    error = ir_rows["tiny-onnx max rel. error vs source"]
    assert error.met and "onnxruntime" in error.note, (error.ours, error.note)


def test_ir_histogram_difference_names_every_differing_type():
    from collections import Counter

    from bench.ir import histogram_difference, op_count

    ours = Counter({"Const": 9, "Parameter": 1, "Result": 1, "Convolution": 3, "Transpose": 2})
    peer = Counter({"Const": 7, "Parameter": 1, "Result": 1, "Convolution": 3, "Convert": 1})
    assert op_count(ours) == 5 and op_count(peer) == 4
    assert histogram_difference(ours, peer) == "Transpose +2, Convert -1"
    assert histogram_difference(peer, peer) == ""


def test_ir_reports_a_model_that_does_not_convert(tmp_path):
    from bench import ir

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    [row] = ir.run([BenchModel("broken", broken, "onnx")], tmp_path / "work", rounds=1, runs=1)
    assert row.figure == "broken converts" and row.met is False
    assert row.note.startswith("ours failed")
