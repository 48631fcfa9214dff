"""End to end, as a zoo maintainer runs it: a local zoo served over loopback HTTP, built with
`doit convert`, then rebuilt, edited, forgotten and moved."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from converter.ir.validator import validate_ir
from doit_runner import run_doit
from httpserver import serving
from modelzoo.localzoo import build_local_zoo
from modelzoo.manifest import load_manifest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    with serving() as files:
        yield files


@pytest.fixture(scope="module")
def zoo_source(tmp_path_factory, server) -> Path:
    """The local zoo's archives, and a manifest whose urls point at the loopback server."""
    folder = tmp_path_factory.mktemp("zoo-source")
    manifest = build_local_zoo(folder)
    text = manifest.read_text()
    for relative in re.findall(r'url = "(archives/[^"]+)"', text):
        url = server.add(f"/{relative}", (folder / relative).read_bytes())
        text = text.replace(f'url = "{relative}"', f'url = "{url}"')
    (folder / "http.toml").write_text(text)
    return folder


def fresh_copy(source: Path, destination: Path, with_state: bool = True) -> Path:
    """The zoo folder as another checkout would have it (optionally without cache/ and outputs)."""
    ignore = None if with_state else shutil.ignore_patterns("cache", "ir", ".doit.db*")
    shutil.copytree(source, destination, ignore=ignore)
    return destination / "http.toml"


@pytest.fixture(scope="module")
def built(zoo_source, tmp_path_factory) -> tuple[Path, object]:
    """A cold `doit -n 2 convert` of the whole zoo (its own copy, with an empty cache)."""
    manifest = fresh_copy(zoo_source, tmp_path_factory.mktemp("built") / "zoo", with_state=False)
    return manifest, run_doit("-n", "2", "convert", manifest=manifest)


def outputs(manifest: Path, suffixes: tuple[str, ...] = (".xml", ".bin", ".json")) -> dict[str, bytes]:
    folder = manifest.parent / "ir"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in suffixes}


def test_cold_build_converts_and_verifies_every_model_in_every_precision(built):
    manifest, run = built
    assert run.code == 0, run.out + run.err
    entries = load_manifest(manifest).models
    assert len(entries) >= 5
    for entry in entries:
        for precision in ("FP32", "FP16"):
            folder = manifest.parent / "ir" / entry.name / precision
            xml = folder / f"{entry.name}.xml"
            assert validate_ir(xml) == []
            report = json.loads((folder / "verify.json").read_text())
            assert report["passed"], report
            if report["outputs"][0].get("kind") == "detections":  # a detector: see test_odapi_pipeline
                stats = report["outputs"][0]["detections"]
                assert stats["matched"] + stats["forgiven"] == stats["source_total"] > 0
                print(f"{entry.name} {precision}: {stats['matched']}/{stats['source_total']} "
                      f"detections matched, worst IoU {stats['worst_iou']:.3f}")
                continue
            limit = 1e-4 if precision == "FP32" else 1e-2
            assert report["max_rel_error"] <= limit
            print(f"{entry.name} {precision}: max abs {report['max_abs_error']:.3g}, "
                  f"max rel {report['max_rel_error']:.3g}")


def test_second_run_does_nothing_and_imports_no_heavy_library(built):
    manifest, _ = built
    run = run_doit("convert", manifest=manifest)
    assert run.code == 0, run.err
    assert run.executed() == set()
    assert run.heavy == []


def test_fresh_checkout_with_the_cache_rebuilds_nothing(built, tmp_path):
    manifest, _ = built
    moved = fresh_copy(manifest.parent, tmp_path / "elsewhere")
    (moved.parent / ".doit.db").unlink(missing_ok=True)
    for leftover in moved.parent.glob(".doit.db*"):
        leftover.unlink()
    shutil.rmtree(moved.parent / "ir")
    entries_before = sorted(p.name for p in (moved.parent / "cache" / "ir").rglob("*") if p.is_dir())
    run = run_doit("convert", manifest=moved)
    assert run.code == 0, run.out + run.err
    assert run.heavy == [], "restoring from the cache must not convert or verify again"
    assert outputs(moved) == outputs(manifest)
    assert sorted(p.name for p in (moved.parent / "cache" / "ir").rglob("*") if p.is_dir()) == entries_before


def test_changing_one_flag_rebuilds_that_model_alone(built, tmp_path):
    manifest, _ = built
    moved = fresh_copy(manifest.parent, tmp_path / "edited")
    assert run_doit("convert", manifest=moved).code == 0  # new paths: restored from the cache
    text = moved.read_text()
    text = text.replace('["tiny-cnn-onnx"]\n', '["tiny-cnn-onnx"]\ndisable_fusing = true\n')
    moved.write_text(text)
    run = run_doit("convert", manifest=moved)
    assert run.code == 0, run.out + run.err
    assert run.executed("convert:") - {"convert:tiny-cnn-onnx"} == {"convert:tiny-cnn-onnx-FP32",
                                                                    "convert:tiny-cnn-onnx-FP16"}
    assert {t for t in run.executed("verify:")} == {"verify:tiny-cnn-onnx-FP32", "verify:tiny-cnn-onnx-FP16"}
    fused = (manifest.parent / "ir/tiny-cnn-onnx/FP32/tiny-cnn-onnx.xml").read_text()
    unfused = (moved.parent / "ir/tiny-cnn-onnx/FP32/tiny-cnn-onnx.xml").read_text()
    assert unfused.count('type="Multiply"') > fused.count('type="Multiply"')


def test_a_fresh_cache_gives_byte_identical_ir(built, zoo_source, tmp_path):
    manifest, _ = built
    again = fresh_copy(zoo_source, tmp_path / "again", with_state=False)
    run = run_doit("-n", "2", "convert", manifest=again)
    assert run.code == 0, run.out + run.err
    assert outputs(again, (".xml", ".bin")) == outputs(manifest, (".xml", ".bin"))  # verify.json has timings


def test_clean_removes_outputs_but_keeps_the_cache(built, tmp_path):
    manifest, _ = built
    moved = fresh_copy(manifest.parent, tmp_path / "cleaned")
    assert run_doit("convert", manifest=moved).code == 0
    assert run_doit("clean", manifest=moved).code == 0
    assert not any(p.is_file() for p in (moved.parent / "ir").rglob("*"))
    assert any((moved.parent / "cache" / "ir").rglob("*.xml"))
    run = run_doit("convert", manifest=moved)
    assert run.code == 0 and run.heavy == []
    assert outputs(moved) == outputs(manifest)
