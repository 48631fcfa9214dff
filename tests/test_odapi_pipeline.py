"""The seed's exercise through the whole pipeline: an Object Detection API archive, named in a
manifest by url, checksum and `reverse_input_channels` alone, builds IR that verifies as
detections; its frozen-graph, checkpoint-only and SavedModel-only forms alike."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from doit_runner import run_doit

pytestmark = pytest.mark.slow

ARCHIVE = Path(__file__).parent / "data" / "ssd_mobilenet_v2_tiny_voc.tar.gz"
FOLDER = "ssd_mobilenet_v2_tiny_voc"
# What each variant leaves out of the archive.
VARIANTS = {
    "frozen": (),
    "checkpoint": ("frozen_inference_graph.pb", "saved_model/"),
    "savedmodel": ("frozen_inference_graph.pb", "model.ckpt", "checkpoint"),
}


def repack(dropped: tuple[str, ...]) -> bytes:
    """The test archive without the members whose path inside the folder starts with one of
    `dropped`."""
    out = io.BytesIO()
    with tarfile.open(ARCHIVE) as source, tarfile.open(fileobj=out, mode="w:gz") as target:
        for member in source.getmembers():
            inside = member.name.split("/", 1)[1] if "/" in member.name else ""
            if any(inside.startswith(prefix) for prefix in dropped if inside):
                continue
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
    return out.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("odapi")
    tables = []
    for name, dropped in VARIANTS.items():
        data = repack(dropped)
        (folder / f"{name}.tar.gz").write_bytes(data)
        precisions = '["FP32", "FP16"]' if name == "frozen" else '["FP32"]'
        tables.append(f'[ssd-{name}]\nurl = "{name}.tar.gz"\n'
                      f'sha256 = "{hashlib.sha256(data).hexdigest()}"\n'
                      f'reverse_input_channels = true\nprecisions = {precisions}\n')
    manifest = folder / "models.toml"
    manifest.write_text("\n".join(tables))
    return manifest, run_doit("-n", "2", "convert", manifest=manifest)


def report(manifest: Path, name: str, precision: str) -> dict:
    return json.loads((manifest.parent / "ir" / f"ssd-{name}" / precision / "verify.json").read_text())


@pytest.mark.parametrize("name,precision", [("frozen", "FP32"), ("frozen", "FP16"),
                                            ("checkpoint", "FP32"), ("savedmodel", "FP32")])
def test_every_form_of_the_archive_verifies_as_detections(built, name, precision):
    manifest, run = built
    assert run.code == 0, run.out + run.err
    result = report(manifest, name, precision)
    assert result["passed"], result
    [entry] = result["outputs"]
    stats = entry["detections"]
    assert entry["kind"] == "detections" and stats["source_total"] > 0
    # every detection matched, but for a tie or the last places of a full list
    assert stats["matched"] + stats["forgiven"] == stats["source_total"]
    assert stats["forgiven"] <= (0 if precision == "FP32" else 2)
    assert stats["worst_iou"] >= 0.9
    assert result["inputs"][0]["kind"] == "image" and result["inputs"][0]["ir_element_type"] == "uint8"
    assert result["inputs"][0]["preprocessing"]["reverse_input_channels"]
    expected_kind = {"frozen": "frozen", "checkpoint": "checkpoint", "savedmodel": "saved_model"}[name]
    assert result["source_kind"] == expected_kind, "the original is the reference"


def test_the_ir_has_no_loops_and_one_detection_output(built):
    manifest, _ = built
    xml = (manifest.parent / "ir" / "ssd-frozen" / "FP32" / "ssd-frozen.xml").read_text()
    for loop in ('type="Loop"', 'type="TensorIterator"', "TensorArray"):
        assert loop not in xml
    assert xml.count('type="DetectionOutput"') == 1
