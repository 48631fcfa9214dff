"""Real builds of the local zoo for the summary, reporter and report tests, made once per session.

`failing_zoo` is the small zoo plus models made to fail on purpose, each one way: a tolerance
no IR meets (failed verification), an input shape the source model refuses (could not verify),
an output name the model lacks (failed conversion), and one the manifest skips. `clean_zoo`
is the small zoo alone, sharing the cache, so its builds restore everything from it.
"""
from __future__ import annotations

import gzip
import hashlib
import tomllib
from pathlib import Path

from doit_runner import DoitRun, run_doit
from zoo_fixtures import small_zoo_manifest

FAILING = {  # model -> (its extra manifest lines, the status it must end with)
    "tiny-strict": ("disable_fusing = true\ntolerance = { FP32 = 1e-12 }", "failed verification"),
    "tiny-bad-shape": ("input_shape = [1, 3, 7, 7]", "could not verify"),
    "tiny-bad-output": ('output = "no_such_node"', "failed conversion"),
}
SKIPPED = ("tiny-later", "waiting for an operator")
EXPECTED = {"tiny-cnn-onnx": "verified", "small-cnn-savedmodel": "verified",
            **{name: status for name, (_, status) in FAILING.items()}, SKIPPED[0]: "skipped"}
_BUILDS: dict[str, tuple[Path, DoitRun]] = {}


def _variant_archive(source: Path, target: Path, mtime: int) -> str:
    """The same tar under another gzip header: other bytes, so its own checksum and cache."""
    data = gzip.compress(gzip.decompress(source.read_bytes()), mtime=mtime)
    target.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def failing_manifest(local_zoo: Path, folder: Path) -> Path:
    manifest = small_zoo_manifest(local_zoo, folder, f'cache_dir = "{folder.parent}/cache"')
    tiny = tomllib.loads(manifest.read_text())["tiny-cnn-onnx"]
    source = Path(tiny["url"])
    blocks = []
    for mtime, (name, (lines, _)) in enumerate(FAILING.items(), start=1):
        sha = _variant_archive(source, folder / f"{name}.tar.gz", mtime)
        blocks.append(f'["{name}"]\nurl = "{name}.tar.gz"\nsha256 = "{sha}"\n{lines}\n')
    blocks.append(f'["{SKIPPED[0]}"]\nurl = "{source}"\nsha256 = "{tiny["sha256"]}"\n'
                  f'skip = "{SKIPPED[1]}"\n')
    manifest.write_text(manifest.read_text() + "\n" + "\n".join(blocks))
    return manifest


def built_zoo(kind: str, local_zoo: Path, root: Path) -> tuple[Path, DoitRun]:
    """The manifest of a built zoo (`failing` or `clean`) and the run that built it."""
    if kind not in _BUILDS:
        if kind == "failing":
            manifest = failing_manifest(local_zoo, root / "failing")
        else:
            built_zoo("failing", local_zoo, root)  # fills the shared cache
            manifest = small_zoo_manifest(local_zoo, root / "clean",
                                          f'cache_dir = "{root}/cache"')
        _BUILDS[kind] = manifest, run_doit("-n", "2", "convert", manifest=manifest)
    return _BUILDS[kind]
