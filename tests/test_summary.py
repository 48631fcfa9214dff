"""The summary at the end of `doit convert`: built from real builds of the local zoo, and on a
no-op read from the state file beside the manifest, with nothing heavy imported."""
from __future__ import annotations

import json

import pytest

from doit_runner import run_doit
from modelzoo.summary import load_state, state_path
from report_zoo import EXPECTED, FAILING, SKIPPED, built_zoo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def zoos(local_zoo, tmp_path_factory):
    root = tmp_path_factory.getbasetemp() / "report-zoos"
    return built_zoo("failing", local_zoo, root), built_zoo("clean", local_zoo, root)


def summary_rows(out: str) -> dict[str, list[str]]:
    """The summary table's rows by model: their cells split on runs of two spaces."""
    lines = out[out.index("Summary of "):].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.strip():
            break
        cells = [c.strip() for c in line.strip().split("  ") if c.strip()]
        rows[cells[0]] = cells
    return rows


def test_a_build_with_failures_exits_non_zero_and_summarizes_every_row(zoos):
    (manifest, run), _ = zoos
    assert run.code != 0, "a failed model must fail the build"
    rows = summary_rows(run.out)
    assert {model: cells[2] for model, cells in rows.items()} == EXPECTED
    verified = rows["tiny-cnn-onnx"]
    assert verified[1] == "FP32" and verified[3] == "onnx"
    assert verified[-1].endswith(" ms") and "/ 1e-04" in verified[-2]
    failures = run.out[run.out.index("Failures:"):]
    assert "tiny-strict FP32: failed verification: " in failures
    assert "tolerance 1e-12" in failures
    assert "tiny-bad-output FP32: failed conversion: " in failures and "no_such_node" in failures
    assert "tiny-bad-shape FP32: could not verify: " in failures
    assert SKIPPED[0] not in failures
    # doit's own lines are kept for scripts reading the log
    assert "verify:tiny-cnn-onnx-FP32" in run.executed()


def test_the_state_file_records_each_row_with_its_figures(zoos):
    (manifest, _), _ = zoos
    state = load_state(manifest)
    assert {row.model: row.status for row in state.values()} == EXPECTED
    good = state["tiny-cnn-onnx/FP32"]
    assert good.ir_bytes == sum((manifest.parent / "ir/tiny-cnn-onnx/FP32" / f"tiny-cnn-onnx{s}")
                                .stat().st_size for s in (".xml", ".bin"))
    report = json.loads((manifest.parent / "ir/tiny-cnn-onnx/FP32/verify.json").read_text())
    assert (good.max_rel_error, good.latency_ms) == (report["max_rel_error"], report["latency_ms"])
    assert good.convert_seconds is not None and good.source_bytes > 0
    assert state["tiny-later/FP32"].reason == SKIPPED[1]
    for name in FAILING:
        assert state[f"{name}/FP32"].reason.startswith(str(manifest))
    assert not list(manifest.parent.glob(f".{state_path(manifest).name}.*")), "temporaries left"


def test_a_no_op_prints_the_summary_from_the_state_without_heavy_imports(zoos):
    _, (manifest, first) = zoos
    assert first.code == 0, first.out + first.err
    path = state_path(manifest)
    data = json.loads(path.read_text())
    data["rows"]["tiny-cnn-onnx/FP32"]["latency_ms"] = 123.456  # only the state says so
    path.write_text(json.dumps(data))
    run = run_doit("convert", manifest=manifest)
    assert run.code == 0, run.out + run.err
    assert run.executed() == set() and run.heavy == []
    rows = summary_rows(run.out)
    assert {m: c[2] for m, c in rows.items()} == {"tiny-cnn-onnx": "verified",
                                                  "small-cnn-savedmodel": "verified"}
    assert rows["tiny-cnn-onnx"][-1] == "123.456 ms"
    assert "Failures:" not in run.out


def test_a_lost_state_file_is_rebuilt_from_the_outputs(zoos):
    _, (manifest, first) = zoos
    state_path(manifest).unlink()
    run = run_doit("convert", manifest=manifest)
    assert run.code == 0 and run.heavy == []
    assert summary_rows(run.out).keys() == summary_rows(first.out).keys()
    assert {row.status for row in load_state(manifest).values()} == {"verified"}
