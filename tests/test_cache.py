"""The content-addressed cache and the atomic file helpers under it."""
from __future__ import annotations

import hashlib
import multiprocessing
import time
from pathlib import Path

import pytest

from modelzoo.cache import Cache, Checksum, verify_file
from modelzoo.errors import CacheError
from modelzoo.fsutil import atomic_directory, atomic_write_text, atomic_writer, hash_file

DATA = b"model bytes" * 100
SUM = Checksum("sha256", hashlib.sha256(DATA).hexdigest())
KEY = "0123456789abcdef" * 4


def test_layout(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    head, rest = SUM.hexdigest[:2], SUM.hexdigest[2:]
    assert cache.download_dir(SUM) == tmp_path / "downloads" / "sha256" / head / rest
    assert cache.unpacked_dir(SUM) == tmp_path / "unpacked" / head / rest
    assert cache.ir_dir(KEY) == tmp_path / "ir" / "01" / KEY[2:]
    assert cache.partial_path(SUM).name.endswith(".part")


@pytest.mark.parametrize("value,problem", [
    (("md5", "a" * 32), "not supported"), (("sha256", "a" * 63), "64 hex digits"),
    (("sha384", "z" * 96), "96 hex digits"), ("sha256", r"\(algo, hexdigest\) pair")])
def test_bad_checksums(value, problem: str) -> None:
    with pytest.raises(CacheError, match=problem):
        Checksum.of(value)


@pytest.mark.parametrize("key", ["../../etc", "abc", "g" * 64])
def test_bad_ir_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(CacheError, match="hex digits"):
        Cache(tmp_path).ir_dir(key)


def test_verify_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert verify_file(path, "sha256", SUM.hexdigest.upper())
    assert not verify_file(path, "sha256", "0" * 64)
    assert not verify_file(tmp_path / "missing", "sha256", SUM.hexdigest)
    assert hash_file(path, "sha384") == hashlib.sha384(DATA).hexdigest()


def test_store_and_lookup_download(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    assert cache.lookup_download(SUM) is None
    source = cache.partial_path(SUM)
    source.parent.mkdir(parents=True)
    source.write_bytes(DATA)
    stored = cache.store_download(SUM, source, "net.onnx")
    assert stored == cache.download_dir(SUM) / "net.onnx" and stored.read_bytes() == DATA
    assert not source.exists()
    assert cache.lookup_download(SUM) == stored


def test_corrupted_download_is_dropped_on_lookup(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    source = tmp_path / "in"
    source.write_bytes(DATA)
    stored = cache.store_download(SUM, source, "net.onnx")
    stored.write_bytes(b"changed")
    assert cache.lookup_download(SUM) is None
    assert not cache.download_dir(SUM).exists()


def test_bad_cached_file_name(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="cannot be a cached file name"):
        Cache(tmp_path).store_download(SUM, tmp_path / "x", "../x")


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    cache = Cache(tmp_path)

    def build(staging: Path) -> None:
        (staging / "half.xml").write_text("<net")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError):
        cache.store_ir(KEY, build)
    assert cache.lookup_ir(KEY) is None
    assert list(cache.ir_dir(KEY).parent.iterdir()) == []


def test_tree_is_built_once(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    calls = []

    def build(staging: Path) -> None:
        calls.append(staging)
        (staging / "model.xml").write_text("<net/>")

    first = cache.store_unpacked(SUM, build)
    assert cache.store_unpacked(SUM, build) == first == cache.lookup_unpacked(SUM)
    assert len(calls) == 1 and calls[0] != first and not calls[0].exists()
    assert (first / "model.xml").read_text() == "<net/>"


def test_stale_staging_is_cleaned(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    final = cache.ir_dir(KEY)
    stale = final.parent / f".{final.name}.staging-deadbeef"
    stale.mkdir(parents=True)
    (stale / "half.bin").write_bytes(b"\0")
    cache.store_ir(KEY, lambda staging: (staging / "ok").write_text("1"))
    assert not stale.exists() and (final / "ok").exists()


def _slow_build(root: str, log: str) -> str:
    def build(staging: Path) -> None:
        with open(log, "a") as handle:
            handle.write("built\n")
        time.sleep(0.5)
        (staging / "model.xml").write_text("<net/>")

    return str(Cache(root).store_ir(KEY, build))


def test_two_processes_build_an_entry_once(tmp_path: Path) -> None:
    log = tmp_path / "log"
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        results = pool.starmap(_slow_build, [(str(tmp_path / "c"), str(log))] * 2)
    assert results[0] == results[1]
    assert log.read_text() == "built\n"


def test_lock_timeout_is_a_clear_error(tmp_path: Path) -> None:
    cache = Cache(tmp_path, lock_timeout=0.1)
    import filelock

    holder = filelock.FileLock(tmp_path / "locks" / f"ir-{KEY}.lock")  # a separate lock object
    context = multiprocessing.get_context("fork")
    ready, done = context.Event(), context.Event()
    process = context.Process(target=_hold, args=(str(holder.lock_file), ready, done))
    process.start()
    try:
        assert ready.wait(10)
        with pytest.raises(CacheError, match="timed out waiting for the lock"):
            cache.store_ir(KEY, lambda staging: None)
    finally:
        done.set()
        process.join(10)


def _hold(lock_file: str, ready, done) -> None:  # type: ignore[no-untyped-def]
    import filelock

    Path(lock_file).parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(lock_file):
        ready.set()
        done.wait(10)


def test_atomic_writer_keeps_the_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(ValueError):
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise ValueError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_directory(tmp_path: Path) -> None:
    final = tmp_path / "tree"
    with pytest.raises(KeyError):
        with atomic_directory(final) as staging:
            (staging / "a").write_text("1")
            raise KeyError("stop")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(final) as staging:
        (staging / "a").write_text("1")
    assert (final / "a").read_text() == "1" and list(tmp_path.iterdir()) == [final]


def build_counter(calls: list[int]):
    def build(staging: Path) -> None:
        calls.append(1)
        (staging / "sub").mkdir()
        (staging / "sub" / "a.bin").write_bytes(b"a" * 100)
        (staging / "b.json").write_text("{}")
    return build


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "extra", "record"])
def test_a_damaged_tree_entry_is_rebuilt_on_use(tmp_path: Path, damage: str) -> None:
    cache, calls = Cache(tmp_path / "cache"), []
    folder = cache.store_tree("ir", KEY, build_counter(calls))
    target = folder / "sub" / "a.bin"
    if damage == "flip":
        target.write_bytes(b"b" + b"a" * 99)
    elif damage == "truncate":
        target.write_bytes(b"a" * 10)
    elif damage == "delete":
        target.unlink()
    elif damage == "extra":
        (folder / "sub" / "stray").write_text("x")
    else:
        (folder / ".integrity.json").unlink()
    assert cache.store_tree("ir", KEY, build_counter(calls)) == folder
    assert len(calls) == 2 and target.read_bytes() == b"a" * 100
    assert not (folder / "sub" / "stray").exists()


def test_a_partial_check_reads_only_the_files_asked_for(tmp_path: Path) -> None:
    cache, calls = Cache(tmp_path / "cache"), []
    folder = cache.store_tree("prepared", KEY, build_counter(calls))
    (folder / "b.json").write_text("[]")
    cache.store_tree("prepared", KEY, build_counter(calls), only=["sub"])
    assert len(calls) == 1
    cache.store_tree("prepared", KEY, build_counter(calls))
    assert len(calls) == 2 and (folder / "b.json").read_text() == "{}"


def test_atomic_writes_get_the_permissions_of_an_ordinary_new_file(tmp_path: Path) -> None:
    import os
    import stat

    from modelzoo.fsutil import atomic_write_bytes

    previous = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "out.bin", b"data")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.bin").stat().st_mode) == 0o640
