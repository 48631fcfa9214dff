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
    for bench in ("convert", "inference", "ssd", "no-op", "incremental", "download", "cold build"):
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
