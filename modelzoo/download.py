"""Fetching model files into the cache: one streaming pass that writes, hashes and counts.

An HTTP download goes to `cache.partial_path(checksum)` (a `.part` file, never the final name).
Connection errors, timeouts and 5xx answers are retried with exponential backoff, resuming the
`.part` with a `Range` request; a server that ignores `Range` is read again from byte zero. Only a
file whose size and checksum match is moved into the cache, and a cached file is re-verified each
time it is looked up. `file://` urls and local paths go through the same hashing code.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable
from urllib.parse import urlsplit
from urllib.request import url2pathname

from .cache import Cache, Checksum, cached_filename
from .errors import NO_SPACE_ERRNOS, ChecksumError, DownloadError

if TYPE_CHECKING:
    from .manifest import ModelEntry

log = logging.getLogger(__name__)
CHUNK = 1 << 20  # 1 MB reads: at 64 KB, per-chunk Python overhead halved loopback throughput


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` requests in all, waiting `backoff` * 2**n seconds between."""

    attempts: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    connect_timeout: float = 15.0
    read_timeout: float = 60.0

    def wait(self, failures: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (failures - 1))


class _Retryable(Exception):
    """A failure worth another attempt (5xx, dropped connection, timeout)."""


def fetch(source: "ModelEntry | str | os.PathLike[str]",
          checksum: Checksum | tuple[str, str] | None, size: int | None, cache: Cache, *,
          progress: bool | None = None, retry: RetryPolicy = RetryPolicy()) -> Path:
    """Return the cached, verified file for `source`, downloading it if needed.

    `source` is a manifest entry (its checksum and size are used when the arguments are None),
    an http(s) or file:// url, or a local path. `progress` forces a tqdm bar on or off; by
    default there is one when stderr is a terminal and a single log line per file otherwise.
    """
    url, label, checksum, size = _resolve(source, checksum, size)
    cached = cache.lookup_download(checksum)
    if cached is not None:
        return cached
    with cache.download_lock(checksum):
        cached = cache.lookup_download(checksum)
        if cached is not None:
            return cached
        part = _PartFile(cache.partial_path(checksum), checksum, size, label)
        show = sys.stderr.isatty() if progress is None else progress
        started = time.monotonic()
        if _is_remote(url):
            _download_verified(url, part, retry, show)
        else:
            _copy_local(url, part)
            part.verify()
        log.info("fetched %s (%d bytes) in %.1f s", url, part.length, time.monotonic() - started)
        return cache.store_download(checksum, part.path, cached_filename(url))


def _resolve(source: Any, checksum: Checksum | tuple[str, str] | None,
             size: int | None) -> tuple[str, str, Checksum, int | None]:
    """The url, how messages name it, the checksum and the size (an entry's unless given)."""
    if isinstance(source, (str, os.PathLike)):
        url = os.fspath(source)
        if checksum is None:
            raise DownloadError(f"{url}: no checksum given; every download needs one")
        return url, url, Checksum.of(checksum), size
    checksum = source.checksum if checksum is None else checksum
    size = source.size if size is None else size
    return source.url, f"{source.label}, url {source.url}", Checksum.of(checksum), size


def _is_remote(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


class _BackgroundHash:
    """Feeds chunks to a hash object on a worker thread; leaving the block waits for it."""

    def __init__(self, hasher: Any) -> None:
        import queue
        import threading

        self.hasher = hasher
        self.chunks: "queue.Queue[bytes | None]" = queue.Queue(maxsize=8)
        self.thread = threading.Thread(target=self._run, name="download-hash", daemon=True)

    def _run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            self.hasher.update(chunk)

    def feed(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.chunks.put(None)
            self.thread.join()

    def __enter__(self) -> "_BackgroundHash":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _PartFile:
    """The `.part` file and the running hash of the bytes in it."""

    def __init__(self, path: Path, checksum: Checksum, size: int | None, label: str) -> None:
        self.path, self.checksum, self.size, self.label = path, checksum, size, label
        self.hasher: Any = None
        self.length = 0
        self.inherited = False  # bytes from an earlier run that this run did not write
        path.parent.mkdir(parents=True, exist_ok=True)

    def resume_offset(self) -> int:
        """Bytes already present; hash them first if this run did not write them itself."""
        actual = self.path.stat().st_size if self.path.exists() else 0
        if self.hasher is not None and actual == self.length:
            return self.length
        if self.size is not None and actual > self.size:
            return self.restart()
        self.hasher, self.length = hashlib.new(self.checksum.algo), 0
        if actual:
            with open(self.path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    self.hasher.update(chunk)
                    self.length += len(chunk)
            self.inherited = True
        return self.length

    def restart(self) -> int:
        self.path.write_bytes(b"")
        self.hasher, self.length, self.inherited = hashlib.new(self.checksum.algo), 0, False
        return 0

    def append(self, chunks: Iterable[bytes], bar: Any = None) -> None:
        """Write `chunks`, aborting as soon as more than the expected size has arrived.

        The hash is computed on a second thread while the next chunk is received (hashlib
        releases the GIL), so checking costs almost no throughput. Nothing is fsynced: the
        finished file is re-hashed whenever it is used (see Cache.lookup_download)."""
        with open(self.path, "ab") as handle, _BackgroundHash(self.hasher) as hashing:
            for chunk in chunks:
                self._write(handle, chunk, hashing)
                if bar is not None:
                    bar.update(len(chunk))

    def _write(self, handle: BinaryIO, chunk: bytes, hashing: "_BackgroundHash") -> None:
        if self.size is not None and self.length + len(chunk) > self.size:
            hashing.stop()
            self.discard()
            raise DownloadError(f"{self.label}: more than the expected {self.size} bytes arrived; "
                                "check the size in the manifest or whether the url changed")
        handle.write(chunk)
        hashing.feed(chunk)
        self.length += len(chunk)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.hasher, self.length, self.inherited = None, 0, False

    def verify(self) -> None:
        """Raise (deleting the `.part`) unless the content has the expected size and checksum."""
        if self.size is not None and self.length != self.size:
            got = self.length
            self.discard()
            raise DownloadError(f"{self.label}: got {got} bytes but the manifest says "
                                f"size {self.size}; check the size or the url")
        digest = self.hasher.hexdigest()
        if digest != self.checksum.hexdigest:
            self.discard()
            raise ChecksumError(f"{self.label}: {self.checksum.algo} of the downloaded file is "
                                f"{digest}, the manifest expects {self.checksum.hexdigest}; the "
                                "file changed upstream or the checksum in the manifest is wrong")


def _copy_local(url: str, part: _PartFile) -> None:
    path = Path(url2pathname(urlsplit(url).path)) if url.startswith("file:") else Path(url)
    part.restart()
    try:
        with open(path, "rb") as handle:
            part.append(iter(lambda: handle.read(1 << 20), b""))
    except OSError as exc:
        part.discard()
        if exc.errno in NO_SPACE_ERRNOS:
            raise  # the cache's disk is full: the action reports it
        raise DownloadError(f"{part.label}: cannot read {path}: {exc.strerror or exc}; "
                            "check the url or path") from None


def _download_verified(url: str, part: _PartFile, retry: RetryPolicy, show: bool) -> None:
    """Download and verify; a mismatch after resuming an old `.part` earns one fresh try."""
    _download(url, part, retry, show)
    if part.inherited:
        try:
            part.verify()
            return
        except DownloadError:
            log.warning("%s: the resumed .part did not verify; downloading from scratch", url)
            part.restart()
            _download(url, part, retry, show)
    part.verify()


def _download(url: str, part: _PartFile, retry: RetryPolicy, show: bool) -> None:
    import requests

    with requests.Session() as session:
        session.headers["Accept-Encoding"] = "identity"
        failures = 0
        while True:
            try:
                _attempt(session, url, part, retry, show)
                return
            except _Retryable as exc:
                failures += 1
                if failures >= retry.attempts:
                    raise DownloadError(
                        f"{part.label}: gave up after {failures} attempts, last: {exc}; the "
                        f"bytes so far are kept in {part.path} and the next run resumes "
                        "them; check the network or the server") from None
                delay = retry.wait(failures)
                log.warning("%s: %s; retrying in %.1f s", url, exc, delay)
                time.sleep(delay)


def _attempt(session: Any, url: str, part: _PartFile, retry: RetryPolicy, show: bool) -> None:
    import requests
    import urllib3

    offset = part.resume_offset()
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = session.get(url, headers=headers, stream=True,
                               timeout=(retry.connect_timeout, retry.read_timeout))
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retryable(f"connection failed ({type(exc).__name__})") from None
    except requests.RequestException as exc:
        raise DownloadError(f"{part.label}: {_request_problem(exc)}; check the url") from None
    with response:
        if response.status_code == 416 and offset:
            return  # the .part already holds the whole file; verification decides
        _check_status(response, part)
        if offset and not _resumes_at(response, offset):
            offset = part.restart()  # the server ignored Range: start over from byte zero
        _check_announced_size(response, offset, part)
        bar = _progress_bar(response, offset, url) if show else None
        try:
            part.append(response.raw.stream(CHUNK, decode_content=False), bar)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if getattr(exc, "errno", None) in NO_SPACE_ERRNOS:
                raise  # writing the .part failed: no retry helps
            raise _Retryable(f"connection lost after {part.length} bytes "
                             f"({type(exc).__name__})") from None
        finally:
            if bar is not None:
                bar.close()


def _request_problem(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.TooManyRedirects):
        return "too many redirects (a redirect loop on the server)"
    return f"the request failed: {exc}"


def _check_status(response: Any, part: _PartFile) -> None:
    code = response.status_code
    if code >= 500 or code == 429:
        raise _Retryable(f"HTTP {code} {response.reason}")
    if code >= 400:
        hint = "the file is not there; check the url" if code in (404, 410) else \
            "the server refused the request; check the url and access rights"
        raise DownloadError(f"{part.label}: HTTP {code} {response.reason}: {hint}")
    if code not in (200, 206):
        raise DownloadError(f"{part.label}: unexpected HTTP {code} {response.reason}")


def _resumes_at(response: Any, offset: int) -> bool:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return response.status_code == 206 and match is not None and int(match.group(1)) == offset


def _check_announced_size(response: Any, offset: int, part: _PartFile) -> None:
    length = response.headers.get("Content-Length", "")
    if part.size is not None and length.isdigit() and offset + int(length) > part.size:
        part.discard()
        raise DownloadError(f"{part.label}: the server announces {offset + int(length)} bytes "
                            f"but the manifest says size {part.size}; check the size or the url")


def _progress_bar(response: Any, offset: int, url: str) -> Any:
    from tqdm import tqdm

    length = response.headers.get("Content-Length", "")
    total = offset + int(length) if length.isdigit() else None
    return tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=cached_filename(url), file=sys.stderr, leave=False)
