"""Faults of the disk under a build: damaged cache entries are found on use and rebuilt, two
builds at once share one cache without clobbering it, and a full disk is a clear error that the
next run (with space) recovers from."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doit_runner import PROJECT, run_doit
from zoo_fixtures import cache_problems, fresh_zoo, ir_outputs, leftovers, small_zoo_manifest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(local_zoo, tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    manifest = small_zoo_manifest(local_zoo, tmp_path_factory.mktemp("faults") / "reference")
    run = run_doit("convert", manifest=manifest)
    assert run.code == 0, run.out + run.err
    return manifest, ir_outputs(manifest)


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def only_file(folder: Path, pattern: str) -> Path:
    """The first file matching `pattern` under `folder` (in sorted order)."""
    return sorted(p for p in folder.rglob(pattern) if p.is_file())[0]


def json_record(folder: Path, pattern: str, wanted) -> Path:
    """The first JSON file matching `pattern` under `folder` whose content `wanted` accepts
    (entries are named by key, so the sorted order says nothing about which model is first)."""
    return next(p for p in sorted(folder.rglob(pattern)) if wanted(json.loads(p.read_text())))


def test_damaged_entries_of_every_stage_are_detected_and_rebuilt(reference, tmp_path):
    manifest, expected = reference
    copy = tmp_path / "zoo"
    shutil.copytree(manifest.parent, copy)
    cache = copy / "cache"
    damaged = [only_file(cache / "downloads", "small_cnn_savedmodel.tar.gz"),
               only_file(cache / "unpacked", "tiny_cnn.onnx"),
               # the SavedModel is converted from its unpacked tree: its prepared entry is
               # its description alone
               json_record(cache / "prepared", "prepared.json",
                           lambda info: info["location"]["kind"] == "saved_model"),
               only_file(cache / "ir", "small-cnn-savedmodel.bin"),
               # the ONNX model's verdict, whose check reads (and repairs) its unpacked tree
               json_record(cache / "verify", "verify.json",
                           lambda report: report["model"] == "tiny-cnn-onnx")]
    for path in damaged:
        flip_byte(path)
    # a fresh checkout with this cache: every action runs and uses the damaged entries
    for state in copy.glob(".doit.*"):
        state.unlink()
    shutil.rmtree(copy / "ir")
    run = run_doit("convert", manifest=copy / manifest.name)
    assert run.code == 0, run.out + run.err
    assert ir_outputs(copy / manifest.name) == expected
    assert cache_problems(cache) == []
    assert run.err.count("is damaged") == 4 and "does not match its sha256" in run.err, run.err


def test_two_builds_at_once_on_one_manifest(reference, tmp_path):
    manifest, expected = reference
    copy = fresh_zoo(manifest, tmp_path / "zoo")
    runs = run_concurrently([["-n", "4", "convert"], ["convert"]], [copy, copy])
    assert [code for code, _ in runs] == [0, 0], runs
    assert ir_outputs(copy) == expected
    assert cache_problems(copy.parent / "cache") == []
    assert sum(err.count("fetched ") for _, err in runs) == 2, "each archive is fetched once"


def test_two_manifests_sharing_one_cache_build_at_once(reference, local_zoo, tmp_path):
    manifest, expected = reference
    shared = tmp_path / "shared-cache"
    manifests = [small_zoo_manifest(local_zoo, tmp_path / name, f'cache_dir = "{shared}"')
                 for name in ("a", "b")]
    runs = run_concurrently([["-n", "4", "convert"]] * 2, manifests)
    assert [code for code, _ in runs] == [0, 0], runs
    for each in manifests:
        assert ir_outputs(each) == expected
    assert cache_problems(shared) == []
    assert sum(err.count("fetched ") for _, err in runs) == 2, "each archive is fetched once"


def run_concurrently(argvs: list[list[str]], manifests: list[Path]) -> list[tuple[int, str]]:
    """Start one doit per argv at the same moment; their exit codes and stderr."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [subprocess.Popen([sys.executable, "-m", "doit", "-f", str(PROJECT / "dodo.py"),
                               *argv, f"manifest={manifest}"], cwd=PROJECT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for argv, manifest in zip(argvs, manifests)]
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    return [(proc.returncode, err) for proc, err in zip(procs, errors)]


def can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def small_disk(folder: Path, size_kb: int):
    """A `size_kb` tmpfs mounted at `folder`."""
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)],
                   check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def assert_clear_failure(run, folder: Path) -> None:
    assert run.code != 0
    # (stderr may end with absl's atexit complaint once TensorFlow was imported: not ours)
    assert "disk space" in run.out and "Traceback" not in run.out, run.out + run.err
    assert cache_problems(folder / "cache") == []
    assert leftovers(folder) == []


def rerun_succeeds(zoo: Path, folder: Path, expected: dict[str, bytes]) -> None:
    rerun = run_doit("convert", manifest=zoo)
    assert rerun.code == 0, rerun.out + rerun.err
    assert ir_outputs(zoo, folder / "ir") == expected
    assert cache_problems(folder / "cache") == []


def zoo_on(local_zoo: Path, folder: Path, disk: Path) -> Path:
    return small_zoo_manifest(local_zoo, folder, f'cache_dir = "{disk}/cache"\noutput_dir = "{disk}/ir"')


@pytest.mark.parametrize("method", ["tmpfs", "rlimit"] if can_mount() else ["rlimit"])
def test_a_full_disk_is_a_clear_error_and_the_rerun_succeeds(reference, local_zoo, tmp_path, method):
    """The cache and the outputs on a 160 kB tmpfs (as root; they are then moved to a roomy
    disk), or, where mounting is not allowed, every write past 12.5 kB failing with EFBIG
    (RLIMIT_FSIZE with SIGXFSZ ignored), as on a full disk."""
    manifest, expected = reference
    disk = tmp_path / "disk"
    zoo = zoo_on(local_zoo, tmp_path / "zoo", disk)
    if method == "rlimit":
        assert_clear_failure(run_doit("convert", manifest=zoo, file_size_limit=12_800), disk)
    else:
        with small_disk(disk, 160):
            assert_clear_failure(run_doit("convert", manifest=zoo), disk)
            shutil.copytree(disk, tmp_path / "roomy")
        disk = tmp_path / "roomy"
        zoo.write_text(zoo.read_text().replace(str(tmp_path / "disk"), str(disk)))
    rerun_succeeds(zoo, disk, expected)
