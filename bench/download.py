"""Benchmark 4: download throughput over loopback, `modelzoo.download.fetch` against curl.

The benchmark serves a generated file from an HTTP server on 127.0.0.1 (sendfile, so the
server is never the bottleneck). Ours writes into a fresh cache and checks sha256 in the same
pass; curl only writes. Runs alternate; throughput is size / median time.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

from .measure import Pair, Run
from .report import Row


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def copyfile(self, source, outputfile) -> None:
        """Send the body with sendfile(2) instead of 16 KB Python copies."""
        self.wfile.flush()
        offset, size = 0, os.fstat(source.fileno()).st_size
        while offset < size:
            offset += os.sendfile(self.connection.fileno(), source.fileno(), offset, size - offset)


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """An HTTP server for `folder` on a free loopback port; yields its base url."""
    handler = lambda *a, **k: _Handler(*a, directory=str(folder), **k)  # noqa: E731
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def make_file(path: Path, size: int, seed: int = 0) -> str:
    """Write `size` pseudo-random bytes (a repeated 1 MB block); return their sha256."""
    import random

    block = random.Random(seed).randbytes(1 << 20)
    hasher = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left:
            chunk = block[:min(left, len(block))]
            handle.write(chunk)
            hasher.update(chunk)
            left -= len(chunk)
    return hasher.hexdigest()


def _ours(url: str, digest: str, size: int, work: Path) -> Run:
    from modelzoo.cache import Cache
    from modelzoo.download import fetch

    root = work / "cache"
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    path = fetch(url, ("sha256", digest), size, Cache(root), progress=False)
    seconds = time.perf_counter() - started
    assert path.stat().st_size == size
    return Run(seconds, float("nan"), 0)


def _curl(url: str, work: Path) -> Run:
    target = work / "curl.out"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-o", str(target), url], check=True)
    return Run(time.perf_counter() - started, float("nan"), 0)


def run(size_mb: int, repeats: int) -> list[Row]:
    size = size_mb << 20
    with tempfile.TemporaryDirectory(prefix="bench-download-") as tmp:
        work = Path(tmp)
        (work / "srv").mkdir()
        digest = make_file(work / "srv" / "big.bin", size)
        pair = Pair()
        with serve(work / "srv") as base:
            url = f"{base}/big.bin"
            _curl(url, work)  # warm the page cache for both sides
            for _ in range(repeats):
                pair.ours.append(_ours(url, digest, size, work))
                pair.peer.append(_curl(url, work))
    ours, peer = (size / 1e6 / pair.median(side) for side in ("ours", "peer"))
    return [Row("download", f"{size_mb} MB over loopback", ours, peer, "MB/s", ">= 0.8",
                f"ours: fetch with sha256 in the same pass, into a fresh cache; curl -s -o; {repeats} runs each")]
