"""A loopback HTTP file server for tests, with Range support and fault modes per path.

    def test_x(http_server):
        url = http_server.add("/m.onnx", data, fault="error", times=2)   # 500 twice, then OK

Fault modes (each applies to the first `times` requests of that path, -1 for every request):
`error` (answer `status`, 500 by default), `not_found` (404), `drop` (close the connection after
`after` body bytes), `wrong_bytes` (same length, different content), `ignore_range` (always 200
with the whole file), `wrong_length` (announce `extra` more bytes than sent, then close),
`redirect_loop` (302 to itself), `slow` (wait `delay` seconds before the body).
`send_length=False` leaves out Content-Length (the body ends when the connection closes).
"""
from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

FAULTS = {None, "error", "not_found", "drop", "wrong_bytes", "ignore_range", "wrong_length",
          "redirect_loop", "slow"}


@dataclass
class Route:
    data: bytes
    fault: str | None = None
    times: int = -1
    status: int = 500
    after: int = 0
    extra: int = 100
    delay: float = 1.0
    send_length: bool = True
    hits: int = 0

    def faulty(self) -> bool:
        """Count one request; True while the fault still applies."""
        self.hits += 1
        return self.fault is not None and (self.times < 0 or self.hits <= self.times)


@dataclass
class Served:
    path: str
    range: str | None


@dataclass
class FileServer:
    """Routes registered by the test, and a log of every request received."""

    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[Served] = field(default_factory=list)

    def add(self, path: str, data: bytes, fault: str | None = None, *, times: int = -1,
            **options: float | bool) -> str:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.routes[path] = Route(data, fault, times, **options)  # type: ignore[arg-type]
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_for(self, path: str) -> list[Served]:
        return [r for r in self.log if r.path == path]


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            server.log.append(Served(self.path, self.headers.get("Range")))
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            try:
                self._serve(route, route.fault if route.faulty() else None)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _serve(self, route: Route, fault: str | None) -> None:
            if fault in ("error", "not_found"):
                self.send_error(404 if fault == "not_found" else route.status)
                return
            if fault == "redirect_loop":
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = route.data
            if fault == "wrong_bytes":
                data = bytes(b ^ 0x5A for b in data)
            start = self._range_start(len(data)) if fault != "ignore_range" else None
            if start is not None and start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start or 0:]
            self.send_response(206 if start is not None else 200)
            if start is not None:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            announced = len(body) + (route.extra if fault == "wrong_length" else 0)
            if route.send_length:
                self.send_header("Content-Length", str(announced))
            else:
                self.close_connection = True
            self.end_headers()
            self._body(route, fault, body)

        def _body(self, route: Route, fault: str | None, body: bytes) -> None:
            if fault == "slow":
                self.wfile.flush()
                time.sleep(route.delay)
            if fault == "drop":
                self.wfile.write(body[:int(route.after)])
                self._hang_up()
                return
            self.wfile.write(body)
            if fault == "wrong_length":
                self._hang_up()

        def _range_start(self, length: int) -> int | None:
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "").strip())
            return int(match.group(1)) if match else None

        def _hang_up(self) -> None:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


@contextlib.contextmanager
def serving() -> Iterator[FileServer]:
    """A server on 127.0.0.1 at a free port, running in a thread while the block runs."""
    files = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    httpd.daemon_threads = True
    files.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield files
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_server() -> Iterator[FileServer]:
    """A loopback server for the test's duration."""
    with serving() as files:
        yield files
