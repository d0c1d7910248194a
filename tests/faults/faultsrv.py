"""A loopback HTTP server that misbehaves on purpose (docs/reliability.md).

Paths: ``/drip?rate=1`` (one byte per second, forever until the client leaves),
``/endless`` (an endless body with no Content-Length), ``/gzipbomb`` (1 GiB of zeros,
~1 MB gzipped, sent with Content-Encoding: gzip), ``/huge?mb=N`` (N MB body),
``/loop`` (redirects to itself), ``/redirect?code=301&to=/path``, ``/reset`` (declares
a Content-Length, sends half, closes), ``/scripted`` (writes the raw bytes set with
``FaultServer.script``: any status line and headers, however malformed, then closes).
A ``SilentListener`` accepts and never answers.

POST is answered like GET (after the body is read): a webhook that drips its answer.

Every loop is bounded (by byte counts or a 60 s cap) and ``stop()`` ends the threads.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.faults.threaded import ThreadedServer

MAX_SECONDS = 60.0


@functools.cache
def gzip_bomb() -> bytes:
    """1 GiB of zeros, gzip-compressed once per test session (~1 MB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunk = b"\0" * (1 << 20)
    parts = [comp.compress(chunk) for _ in range(1024)]
    parts.append(comp.flush())
    return b"".join(parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.hits.append(url.path)
        try:
            handler = getattr(self, "route_" + url.path.strip("/").replace("-", "_"), None)
            if handler is None:
                self._send(404, b"not found")
            else:
                handler(query)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass

    def do_POST(self) -> None:
        # A receiver that misbehaves the same way (a webhook answering ``/drip``).
        length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
        self.rfile.read(length)
        self.do_GET()

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stopped(self, started: float) -> bool:
        return self.server.stopping.is_set() or time.monotonic() - started > MAX_SECONDS

    def route_drip(self, query: dict[str, str]) -> None:
        rate = float(query.get("rate", "1"))
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        started = time.monotonic()
        while not self._stopped(started):
            self.wfile.write(b"<")
            self.wfile.flush()
            time.sleep(1 / rate)

    def route_endless(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        chunk = b"<rss>" + b"x" * 65536
        started = time.monotonic()
        for _ in range(100_000):
            if self._stopped(started):
                break
            self.wfile.write(chunk)

    def route_gzipbomb(self, query: dict[str, str]) -> None:
        self._send(
            200, gzip_bomb(), {"Content-Encoding": "gzip", "Content-Type": "application/xml"}
        )

    def route_huge(self, query: dict[str, str]) -> None:
        size = int(float(query.get("mb", "20")) * 1024 * 1024)
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b"x" * 65536
        sent = 0
        while sent < size and not self.server.stopping.is_set():
            part = block[: size - sent]
            self.wfile.write(part)
            sent += len(part)

    def route_loop(self, query: dict[str, str]) -> None:
        self._send(302, b"", {"Location": "/loop"})

    def route_redirect(self, query: dict[str, str]) -> None:
        self._send(int(query.get("code", "302")), b"", {"Location": query.get("to", "/")})

    def route_scripted(self, query: dict[str, str]) -> None:
        self.wfile.write(self.server.scripted)
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def route_reset(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "10000")
        self.end_headers()
        self.wfile.write(b"<rss>" + b"x" * 4995)
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[str] = []
        self.scripted = b""
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up on purpose here (size caps, deadlines): not worth a trace


class FaultServer(ThreadedServer):
    def __init__(self) -> None:
        self._faults = _Server()
        super().__init__(self._faults)

    def _wake(self) -> None:
        self._faults.stopping.set()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, raw: bytes) -> None:
        """The exact bytes ``/scripted`` answers with from now on."""
        self._faults.scripted = raw

    @property
    def hits(self) -> list[str]:
        return list(self._faults.hits)


class SilentListener:
    """Accepts TCP connections and never sends a byte; counts accepts (a canary)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self.accepts = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    def _loop(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - started < MAX_SECONDS * 5:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepts += 1
            self._held.append(conn)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()
