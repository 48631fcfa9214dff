"""Benchmark `remote`: a fresh clone restoring a whole zoo from the remote cache.

One zoo of `count` small, all different ONNX models (the no-op benchmark's), built three ways
with `doit -n 2 convert`, each in a fresh folder with an empty local cache and task state:

1. converted, no remote (the peer: what a fresh clone costs without a remote cache);
2. converted with a remote cache (the upload's cost on top of converting);
3. restored: another fresh folder, the same remote, nothing converted (its child process
   reports that it imported no numpy, onnx or openvino).

The remote is a real S3 server on loopback (moto's, when installed, as the tests use) or a
shared folder. From the per-model figures it prints, the README's paper estimate of a
1000-model zoo over N shards follows.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from .measure import PROJECT, child_env, run_child
from .report import Row
from .zoo import HEAVY, _SCRIPT, compile_bytecode, write_zoo


def run(work: Path, count: int) -> list[Row]:
    compile_bytecode()
    with _remote(work) as (url, env, kind):
        converted = _build(work / "converted", count, {})
        uploaded = _build(work / "uploaded", count, {**env, "MODELZOO_REMOTE_CACHE": url})
        restored = _build(work / "restored", count, {**env, "MODELZOO_REMOTE_CACHE": url})
    seconds = {name: run.seconds for name, (run, _heavy) in
               (("converted", converted), ("uploaded", uploaded), ("restored", restored))}
    heavy = restored[1]
    note = f"{count} models, doit -n 2, remote: {kind}"
    return [
        Row("remote", f"fresh clone restores {count} models vs converts them", seconds["restored"],
            seconds["converted"], "s", "", note),
        Row("remote", "converting with uploads vs without", seconds["uploaded"], seconds["converted"],
            "s", "", note),
        Row("remote", "restore per model", seconds["restored"] / count, seconds["converted"] / count,
            "s", "", "the restore's and the conversion's wall time per model"),
        Row("remote", "restore imported no numpy/onnx/openvino", float(not heavy), None, "bool", ">= 1",
            f"heavy modules imported: {heavy or 'none'}"),
    ]


def _build(folder: Path, count: int, env: dict[str, str]):
    shutil.rmtree(folder, ignore_errors=True)
    manifest = write_zoo(folder, count, seed=11)
    cmd = [sys.executable, "-c", _SCRIPT, "-f", str(PROJECT / "dodo.py"), "-n", "2", "convert",
           f"manifest={manifest}"]
    run = run_child(cmd, cwd=PROJECT, env={**child_env(), **env})
    lines = [line for line in run.err.splitlines() if line.startswith("HEAVY=")]
    heavy = [m for m in (json.loads(lines[-1][6:]) if lines else ["<no report>"])
             if m in HEAVY and m not in ("requests", "urllib3")]
    return run, heavy


class _remote:
    """An S3 server on loopback when moto is installed, else a shared folder."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.server = None

    def __enter__(self):
        try:
            sys.path.insert(0, str(PROJECT / "tests"))
            from s3server import S3Server

            self.server = S3Server()
            return self.server.new_bucket(), self.server.env, "S3 (moto server on loopback)"
        except ImportError:
            folder = self.work / "shared-remote"
            return folder.as_uri(), {}, "a shared folder"
        finally:
            sys.path.remove(str(PROJECT / "tests"))

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.stop()
