"""The remote cache (modelzoo.remote) under the local cache, on a real S3 server and a folder.

Each test runs on both kinds of remote: S3 (moto's server on loopback, through s3fs) and a plain
shared folder (`file://`), as the manifest's `remote_cache` names them.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import time
from pathlib import Path

import pytest

from modelzoo import remote as remote_module
from modelzoo.cache import Cache
from modelzoo.integrity import RECORD, check_tree
from modelzoo.remote import RemoteCache, remote_for
from s3server import S3Server, s3, s3_server  # noqa: F401 (fixtures)

KEY = "ab" * 16
ARCHIVE = b"an archive's bytes\n" * 100


@pytest.fixture(params=["s3", "folder"])
def remote_url(request, tmp_path, monkeypatch) -> str:
    """A fresh, empty remote of each kind."""
    if request.param == "folder":
        return (tmp_path / "shared").as_uri()
    server = request.getfixturevalue("s3")
    return server.new_bucket()


def machine(root: Path, url: str) -> Cache:
    """A cache on another machine: a process that has read nothing from the remote yet."""
    remote_module._CONNECTIONS.clear()
    remote_module._FAILED.clear()
    return Cache(root, remote=RemoteCache(url))


def build_ir(files: dict[str, bytes]):
    """A `build` callback for Cache.store_tree that writes `files` and counts its calls."""
    calls = []

    def build(staging: Path) -> None:
        calls.append(staging)
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
    build.calls = calls
    return build


IR_FILES = {"model.xml": b"<net/>", "model.bin": bytes(range(256)) * 40, "sub/convert.json": b"{}"}


def test_an_entry_built_on_one_machine_is_restored_on_another(tmp_path, remote_url):
    first = Cache(tmp_path / "first", remote=RemoteCache(remote_url))
    build = build_ir(IR_FILES)
    first.store_tree("ir", KEY, build)
    assert len(build.calls) == 1

    second = machine(tmp_path / "second", remote_url)
    rebuild = build_ir({"model.xml": b"other"})
    folder = second.store_tree("ir", KEY, rebuild)
    assert rebuild.calls == []  # fetched, not built
    assert {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != RECORD} == IR_FILES
    assert check_tree(folder) is None
    assert second.lookup_ir(KEY) == folder


def test_lookup_fetches_a_missing_entry_and_misses_cleanly(tmp_path, remote_url):
    Cache(tmp_path / "first", remote=RemoteCache(remote_url)).store_tree("ir", KEY, build_ir(IR_FILES))
    second = machine(tmp_path / "second", remote_url)
    assert second.lookup_ir(KEY) is not None
    assert second.lookup_ir("cd" * 16) is None
    assert not any(".staging-" in p.name for p in (tmp_path / "second").rglob("*"))


def test_downloads_travel_with_their_checksum(tmp_path, remote_url):
    import hashlib

    checksum = ("sha256", hashlib.sha256(ARCHIVE).hexdigest())
    first = Cache(tmp_path / "first", remote=RemoteCache(remote_url))
    part = first.partial_path(checksum)
    part.parent.mkdir(parents=True)
    part.write_bytes(ARCHIVE)
    first.store_download(checksum, part, "model.tar.gz")

    second = machine(tmp_path / "second", remote_url)
    found = second.lookup_download(checksum)
    assert found is not None and found.name == "model.tar.gz" and found.read_bytes() == ARCHIVE


def test_a_damaged_remote_file_is_detected_rebuilt_and_uploaded_again(tmp_path, remote_url, caplog):
    remote = RemoteCache(remote_url)
    Cache(tmp_path / "first", remote=remote).store_tree("ir", KEY, build_ir(IR_FILES))
    record = json.loads(remote._open().cat_file(f"{remote.entry_path('ir', KEY)}/{RECORD}"))
    bin_blob = remote.blob_path(record["files"]["model.bin"][1])
    remote._open().pipe_file(bin_blob, b"\0" * len(IR_FILES["model.bin"]))  # same size, other bytes

    second = machine(tmp_path / "second", remote_url)
    rebuild = build_ir(IR_FILES)
    with caplog.at_level(logging.WARNING, logger="modelzoo"):
        folder = second.store_tree("ir", KEY, rebuild)
    assert len(rebuild.calls) == 1, "a damaged remote entry must not be trusted"
    assert "is damaged (model.bin does not match its record)" in caplog.text
    assert (folder / "model.bin").read_bytes() == IR_FILES["model.bin"]

    third = machine(tmp_path / "third", remote_url)
    never = build_ir({})
    assert (third.store_tree("ir", KEY, never) / "model.bin").read_bytes() == IR_FILES["model.bin"]
    assert never.calls == [], "the rebuilt entry was uploaded again, whole"


def test_an_entry_without_its_record_is_not_there(tmp_path, remote_url):
    """The record is published last: blobs alone (an upload cut short) are a miss."""
    remote = RemoteCache(remote_url)
    Cache(tmp_path / "first", remote=remote).store_tree("ir", KEY, build_ir(IR_FILES))
    remote._open().rm_file(f"{remote.entry_path('ir', KEY)}/{RECORD}")
    second = machine(tmp_path / "second", remote_url)
    rebuild = build_ir(IR_FILES)
    second.store_tree("ir", KEY, rebuild)
    assert len(rebuild.calls) == 1


def test_a_record_that_names_paths_outside_its_entry_is_refused(tmp_path, remote_url, caplog):
    remote = RemoteCache(remote_url)
    Cache(tmp_path / "first", remote=remote).store_tree("ir", KEY, build_ir(IR_FILES))
    record_path = f"{remote.entry_path('ir', KEY)}/{RECORD}"
    record = json.loads(remote._open().cat_file(record_path))
    record["files"]["../../escaped"] = record["files"].pop("model.xml")
    remote._open().pipe_file(record_path, json.dumps(record).encode())
    second = machine(tmp_path / "second", remote_url)
    rebuild = build_ir(IR_FILES)
    with caplog.at_level(logging.WARNING, logger="modelzoo"):
        second.store_tree("ir", KEY, rebuild)
    assert len(rebuild.calls) == 1 and "record is not readable" in caplog.text
    assert not list(tmp_path.rglob("escaped"))


def _publish_racing(url: str, root: str, note: bytes, barrier) -> None:
    cache = Cache(root, remote=RemoteCache(url))
    barrier.wait()
    cache.store_tree("ir", KEY, build_ir({**IR_FILES, "sub/convert.json": note}))


def test_concurrent_uploads_of_one_entry_leave_a_whole_entry(tmp_path, remote_url):
    """Two machines build the same entry at once (their convert.json differs, as timings do):
    whichever record wins, it names whole files that match it."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    notes = [b'{"seconds": %d}' % i for i in range(3)]
    workers = [context.Process(target=_publish_racing,
                               args=(remote_url, str(tmp_path / f"m{i}"), notes[i], barrier))
               for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    reader = machine(tmp_path / "reader", remote_url)
    never = build_ir({})
    folder = reader.store_tree("ir", KEY, never)
    assert never.calls == []
    assert check_tree(folder) is None
    assert (folder / "sub/convert.json").read_bytes() in notes
    assert (folder / "model.bin").read_bytes() == IR_FILES["model.bin"]


def test_a_remote_that_is_down_degrades_to_local_with_one_warning(tmp_path, caplog):
    server = S3Server()
    url = server.new_bucket()
    import os

    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        server.stop()
        cache = Cache(tmp_path / "local", remote=RemoteCache(url))
        with caplog.at_level(logging.WARNING, logger="modelzoo"):
            for key in ("ab" * 16, "cd" * 16, "ef" * 16):
                build = build_ir(IR_FILES)
                cache.store_tree("ir", key, build)
                assert len(build.calls) == 1
                assert cache.lookup_ir(key) is not None
        warnings = [r for r in caplog.records if "is unavailable" in r.getMessage()]
        assert len(warnings) == 1 and url in warnings[0].getMessage()
        assert cache.remote.available is False
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_a_remote_that_refuses_writes_degrades_too(tmp_path, caplog):
    shared = tmp_path / "read-only"
    shared.mkdir()
    shared.chmod(0o500)
    try:
        cache = Cache(tmp_path / "local", remote=RemoteCache(shared.as_uri()))
        build = build_ir(IR_FILES)
        import os

        if os.geteuid() == 0:  # root writes anyway: make the folder a file instead
            shared.chmod(0o700)
            shared.rmdir()
            shared.write_text("not a folder")
        with caplog.at_level(logging.WARNING, logger="modelzoo"):
            folder = cache.store_tree("ir", KEY, build)
        assert check_tree(folder) is None and len(build.calls) == 1
        assert "is unavailable" in caplog.text
    finally:
        if shared.is_dir():
            shared.chmod(0o700)


def test_the_environment_variable_overrides_the_manifest(monkeypatch):
    monkeypatch.setenv("MODELZOO_REMOTE_CACHE", "s3://from-env/prefix")
    assert remote_for("file:///from/manifest").url == "s3://from-env/prefix"
    monkeypatch.setenv("MODELZOO_REMOTE_CACHE", "")
    assert remote_for("file:///from/manifest") is None
    monkeypatch.delenv("MODELZOO_REMOTE_CACHE")
    assert remote_for("file:///from/manifest").url == "file:///from/manifest"
    assert remote_for(None) is None


def test_a_remote_cache_pickles_without_its_connection(tmp_path, remote_url):
    import pickle

    remote = RemoteCache(remote_url)
    Cache(tmp_path / "a", remote=remote).store_tree("ir", KEY, build_ir(IR_FILES))
    data = pickle.dumps(Cache(tmp_path / "b", remote=remote))
    assert remote.__getstate__() == {"url": remote_url}
    copy = pickle.loads(data)
    assert copy.remote.url == remote_url
    assert copy.lookup_ir(KEY) is not None


def test_collect_drops_old_unneeded_entries_and_their_files(tmp_path, remote_url):
    remote = RemoteCache(remote_url)
    cache = Cache(tmp_path / "local", remote=remote)
    cache.store_tree("ir", "ab" * 16, build_ir({"a.bin": b"kept"}))
    cache.store_tree("ir", "cd" * 16, build_ir({"b.bin": b"dropped"}))
    assert remote.collect(live=set(), keep_days=30) == (0, 0)  # young: kept
    time.sleep(1.1)  # S3 times are whole seconds
    entries, blobs = remote.collect(live={("ir", "ab" * 16)}, keep_days=0)
    assert (entries, blobs) == (1, 1)
    assert set(remote.records()) == {("ir", "ab" * 16)}
    fresh = machine(tmp_path / "fresh", remote_url)
    assert fresh.lookup_ir("ab" * 16) is not None and fresh.lookup_ir("cd" * 16) is None
