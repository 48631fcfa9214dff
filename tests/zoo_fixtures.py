"""A small local zoo shared by the fault tests, and checks of a build's outputs and cache.

`local_zoo` builds the demo zoo's archives once per session; `small_zoo_manifest` writes a
manifest of two of its models (an ONNX file, and a SavedModel that the prepare stage freezes)
in FP32 only, so that a whole cold build takes seconds.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from modelzoo.integrity import check_tree
from modelzoo.localzoo import build_local_zoo

SMALL_MODELS = ("tiny-cnn-onnx", "small-cnn-savedmodel")
TREE_KINDS = ("unpacked", "prepared", "ir", "verify")


@pytest.fixture(scope="session")
def local_zoo(tmp_path_factory) -> Path:
    """The demo zoo's folder: `archives/` and `models.toml` (urls relative to it)."""
    folder = tmp_path_factory.mktemp("local-zoo")
    build_local_zoo(folder)
    return folder


def small_zoo_manifest(local_zoo: Path, folder: Path, extra_defaults: str = "") -> Path:
    """A fresh folder with the small zoo's manifest; its urls point at `local_zoo`'s archives."""
    folder.mkdir(parents=True, exist_ok=True)
    blocks = (local_zoo / "models.toml").read_text().split("\n\n")
    keep = [b for b in blocks if any(b.startswith(f'["{name}"]') for name in SMALL_MODELS)]
    text = "\n\n".join(keep).replace('precisions = ["FP32", "FP16"]\n', "")
    text = text.replace('url = "archives/', f'url = "{local_zoo.as_posix()}/archives/')
    manifest = folder / "models.toml"
    manifest.write_text(f'[defaults]\nprecisions = ["FP32"]\n{extra_defaults}\n{text}\n')
    return manifest


def fresh_zoo(source: Path, destination: Path) -> Path:
    """A copy of the zoo folder of `source` (a manifest) without its cache, outputs or state."""
    shutil.copytree(source.parent, destination,
                    ignore=shutil.ignore_patterns("cache", "ir", ".doit.*"))
    return destination / source.name


def ir_outputs(manifest: Path, output_dir: Path | None = None) -> dict[str, bytes]:
    """Every .xml and .bin in the output folder, by relative path."""
    folder = output_dir or manifest.parent / "ir"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".xml", ".bin")}


def cache_problems(cache: Path) -> list[str]:
    """What is wrong in a cache: downloads that do not hash to their key, tree entries that do
    not match their integrity record, and leftovers of interrupted writes."""
    problems = []
    downloads = cache / "downloads"
    for path in sorted(downloads.glob("*/*/*/*")) if downloads.is_dir() else []:
        algo, head, rest = path.parent.parent.parent.name, path.parent.parent.name, path.parent.name
        if hashlib.new(algo, path.read_bytes()).hexdigest() != head + rest:
            problems.append(f"download {path} does not match its checksum")
    for kind in TREE_KINDS:
        for entry in sorted((cache / kind).glob("*/*")) if (cache / kind).is_dir() else []:
            if ".staging-" in entry.name:
                continue  # reported below
            problem = check_tree(entry)
            if problem:
                problems.append(f"{kind} entry {entry}: {problem}")
    problems += [f"leftover {p}" for p in leftovers(cache)]
    return problems


def leftovers(folder: Path) -> list[Path]:
    """Staging folders and temporary files an interrupted write left behind."""
    return sorted(p for p in folder.rglob("*")
                  if ".staging-" in p.name or p.name.endswith((".tmp", ".part")))
