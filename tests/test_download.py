"""Downloads against a real loopback server with injected faults."""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from modelzoo.cache import Cache, Checksum
from modelzoo.download import RetryPolicy, fetch
from modelzoo.errors import ChecksumError, DownloadError
from modelzoo.manifest import ModelEntry

DATA = os.urandom(300_000)
SUM = Checksum("sha256", hashlib.sha256(DATA).hexdigest())
FAST = RetryPolicy(attempts=4, backoff=0.01, connect_timeout=2, read_timeout=2)


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def final_files(cache: Cache) -> list[Path]:
    """Every file under downloads/ (complete entries only may be there)."""
    root = cache.root / "downloads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def leftovers(cache: Cache) -> list[Path]:
    """Anything but locks: downloads, staging folders, .part files."""
    return [p for p in cache.root.rglob("*") if p.is_file() and "locks" not in p.parts]


def test_good_download_is_stored_by_checksum(http_server, cache: Cache) -> None:
    url = http_server.add("/models/net.onnx", DATA)
    path = fetch(url, SUM, len(DATA), cache, progress=False, retry=FAST)
    assert path.read_bytes() == DATA
    assert path == cache.download_dir(SUM) / "net.onnx"
    assert path.parent.relative_to(cache.root).parts == ("downloads", "sha256", SUM.hexdigest[:2],
                                                         SUM.hexdigest[2:])
    assert leftovers(cache) == [path]


def test_cached_file_is_not_downloaded_again(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA)
    first = fetch(url, SUM, None, cache, progress=False, retry=FAST)
    second = fetch(url, SUM, None, cache, progress=False, retry=FAST)
    assert first == second
    assert len(http_server.requests_for("/net.onnx")) == 1


def test_cached_file_that_changed_is_fetched_again(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA)
    path = fetch(url, SUM, None, cache, progress=False, retry=FAST)
    path.write_bytes(b"bit rot")
    again = fetch(url, SUM, None, cache, progress=False, retry=FAST)
    assert again.read_bytes() == DATA
    assert len(http_server.requests_for("/net.onnx")) == 2


def test_server_errors_are_retried(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA, "error", times=2)
    path = fetch(url, SUM, len(DATA), cache, progress=False, retry=FAST)
    assert path.read_bytes() == DATA
    assert len(http_server.requests_for("/net.onnx")) == 3


def test_persistent_server_errors_give_up(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA, "error", status=503)
    with pytest.raises(DownloadError, match=r"gave up after 4 attempts.*HTTP 503"):
        fetch(url, SUM, None, cache, progress=False, retry=FAST)
    assert final_files(cache) == []


def test_dropped_connection_is_resumed_with_range(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA, "drop", times=1, after=100_000)
    path = fetch(url, SUM, len(DATA), cache, progress=False, retry=FAST)
    assert path.read_bytes() == DATA
    ranges = [r.range for r in http_server.requests_for("/net.onnx")]
    assert ranges == [None, "bytes=100000-"]
    assert not cache.partial_path(SUM).exists()


def test_partial_file_of_an_earlier_run_is_resumed(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA, "drop", after=1000)
    with pytest.raises(DownloadError, match="the next run resumes"):
        fetch(url, SUM, None, cache, progress=False, retry=RetryPolicy(attempts=1))
    assert cache.partial_path(SUM).stat().st_size == 1000
    assert final_files(cache) == []
    http_server.add("/net.onnx", DATA)
    path = fetch(url, SUM, None, cache, progress=False, retry=FAST)
    assert path.read_bytes() == DATA
    assert http_server.requests_for("/net.onnx")[-1].range == "bytes=1000-"


def test_server_ignoring_range_restarts_from_zero(http_server, cache: Cache) -> None:
    part = cache.partial_path(SUM)
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:5000])
    url = http_server.add("/net.onnx", DATA, "ignore_range")
    path = fetch(url, SUM, len(DATA), cache, progress=False, retry=FAST)
    assert path.read_bytes() == DATA
    assert [r.range for r in http_server.requests_for("/net.onnx")] == ["bytes=5000-"]


def test_corrupt_partial_file_is_discarded(http_server, cache: Cache) -> None:
    part = cache.partial_path(SUM)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 5000)
    url = http_server.add("/net.onnx", DATA)
    assert fetch(url, SUM, None, cache, progress=False, retry=FAST).read_bytes() == DATA
    assert [r.range for r in http_server.requests_for("/net.onnx")] == ["bytes=5000-", None]


def test_wrong_checksum_leaves_nothing(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA, "wrong_bytes")
    with pytest.raises(ChecksumError, match=f"expects {SUM.hexdigest}"):
        fetch(url, SUM, len(DATA), cache, progress=False, retry=FAST)
    assert leftovers(cache) == []


def test_size_exceeded_aborts(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA)
    with pytest.raises(DownloadError, match="manifest says size 1000"):
        fetch(url, SUM, 1000, cache, progress=False, retry=FAST)
    assert leftovers(cache) == []


def test_size_exceeded_without_content_length(http_server, cache: Cache) -> None:
    """Without a Content-Length to check first, the stream is cut once the size is passed."""
    url = http_server.add("/net.onnx", DATA, send_length=False)
    with pytest.raises(DownloadError, match="more than the expected 1000 bytes arrived"):
        fetch(url, SUM, 1000, cache, progress=False, retry=FAST)
    assert leftovers(cache) == []


def test_understated_content_length_fails_the_size_check(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA, "wrong_length", extra=-(len(DATA) - 10))
    with pytest.raises(DownloadError, match=f"got 10 bytes but the manifest says size {len(DATA)}"):
        fetch(url, SUM, len(DATA), cache, progress=False, retry=FAST)
    assert leftovers(cache) == []


def test_not_found_is_a_clear_error_without_retries(http_server, cache: Cache, tmp_path) -> None:
    url = http_server.add("/gone.onnx", DATA, "not_found")
    entry = ModelEntry(name="net", url=url, checksum=SUM, manifest=tmp_path / "zoo.toml")
    with pytest.raises(DownloadError) as caught:
        fetch(entry, None, None, cache, progress=False, retry=FAST)
    message = str(caught.value)
    assert "zoo.toml" in message and "'net'" in message and "HTTP 404" in message
    assert "check the url" in message
    assert len(http_server.requests_for("/gone.onnx")) == 1
    assert leftovers(cache) == []


def test_redirect_loop_is_a_clear_error(http_server, cache: Cache) -> None:
    url = http_server.add("/loop", DATA, "redirect_loop")
    with pytest.raises(DownloadError, match="redirect loop"):
        fetch(url, SUM, None, cache, progress=False, retry=FAST)
    assert final_files(cache) == []


def test_slow_server_times_out_and_is_retried(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA, "slow", times=1, delay=1.0)
    policy = RetryPolicy(attempts=3, backoff=0.01, read_timeout=0.3)
    assert fetch(url, SUM, None, cache, progress=False, retry=policy).read_bytes() == DATA
    assert len(http_server.requests_for("/net.onnx")) == 2


def test_overstated_content_length_is_resumed(http_server, cache: Cache) -> None:
    url = http_server.add("/net.onnx", DATA, "wrong_length", extra=50)
    assert fetch(url, SUM, None, cache, progress=False, retry=FAST).read_bytes() == DATA
    assert http_server.requests_for("/net.onnx")[-1].range == f"bytes={len(DATA)}-"


def test_connection_refused_gives_up(cache: Cache) -> None:
    with pytest.raises(DownloadError, match="gave up after 2 attempts"):
        fetch("http://127.0.0.1:9/net.onnx", SUM, None, cache, progress=False,
              retry=RetryPolicy(attempts=2, backoff=0.01, connect_timeout=1))


def test_local_path_and_file_url(tmp_path: Path, cache: Cache) -> None:
    source = tmp_path / "net.onnx"
    source.write_bytes(DATA)
    assert fetch(source, SUM, len(DATA), cache, progress=False).read_bytes() == DATA
    other = Cache(tmp_path / "other")
    assert fetch(source.as_uri(), SUM, None, other, progress=False).name == "net.onnx"


def test_local_file_with_wrong_checksum(tmp_path: Path, cache: Cache) -> None:
    source = tmp_path / "net.onnx"
    source.write_bytes(b"not the model")
    with pytest.raises(ChecksumError, match="checksum in the manifest is wrong"):
        fetch(source, SUM, None, cache, progress=False)
    assert leftovers(cache) == []


def test_missing_local_file(tmp_path: Path, cache: Cache) -> None:
    with pytest.raises(DownloadError, match="cannot read .*missing.onnx"):
        fetch(tmp_path / "missing.onnx", SUM, None, cache, progress=False)
    assert leftovers(cache) == []


def test_one_log_line_per_file(http_server, cache: Cache, caplog) -> None:
    url = http_server.add("/net.onnx", DATA)
    with caplog.at_level(logging.INFO, logger="modelzoo.download"):
        fetch(url, SUM, None, cache, progress=False, retry=FAST)
    assert [r.getMessage() for r in caplog.records] == [
        f"fetched {url} ({len(DATA)} bytes) in {caplog.records[0].getMessage().split(' in ')[1]}"]


def test_progress_bar_when_asked(http_server, cache: Cache, capsys) -> None:
    url = http_server.add("/net.onnx", DATA)
    fetch(url, SUM, None, cache, progress=True, retry=FAST)
    assert "net.onnx" in capsys.readouterr().err


def test_dns_failure_gives_up_with_a_clear_error(cache: Cache) -> None:
    """`.invalid` never resolves (RFC 2606): the lookup fails locally, no traffic leaves."""
    with pytest.raises(DownloadError, match="gave up after 4 attempts"):
        fetch("http://no-such-host.invalid/m.onnx", SUM, len(DATA), cache, retry=FAST)
    assert final_files(cache) == []


def test_fewer_bytes_than_size_is_an_error(http_server, cache: Cache) -> None:
    url = http_server.add("/m.onnx", DATA[:-10])
    with pytest.raises(DownloadError, match=f"says size {len(DATA)}"):
        fetch(url, SUM, len(DATA), cache, retry=FAST)
    assert final_files(cache) == [] and leftovers(cache) == []
