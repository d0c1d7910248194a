"""A recording HTTP server bound to any loopback address (``127.0.0.2``, ``::1``), with
per-path canned answers that may be delayed or withheld ("hang").

Used as a redirect target that counts hits (F6), as a first hop on another loopback
address, and as a webhook receiver that answers slowly or never (E4). HTTP/1.0, one
request per connection; every wait is bounded by ``MAX_HANG`` and ends at ``stop()``.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.faults.threaded import ThreadedServer

MAX_HANG = 60.0  # seconds a "hang" answer is withheld at most


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b"ok"
    delay: float = 0.0  # seconds to wait before answering
    hang: bool = False  # never answer (until release() or stop())


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 16 * 1024 * 1024)) if length > 0 else b""
        owner = self.server.owner
        hit = Hit(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        answer = owner._record(hit)
        if answer.hang:
            owner._released.wait(MAX_HANG)
            if not owner._stopping.is_set() and owner._answer_after_release:
                answer = Answer()
            else:
                return
        elif answer.delay:
            owner._stopping.wait(answer.delay)
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)
        with owner._lock:
            owner.answered += 1

    do_GET = _serve
    do_POST = _serve
    do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: HostServer, host: str) -> None:
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up are normal here


class HostServer(ThreadedServer):
    """``HostServer("127.0.0.2")``; ``answer(path, Answer(...))``; ``hits``; ``url(path)``."""

    def __init__(self, host: str = "127.0.0.1", default: Answer | None = None) -> None:
        self.host = host
        self.default = default or Answer()
        self.answered = 0
        self._answers: dict[str, Answer] = {}
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._answer_after_release = False
        super().__init__(_Server(self, host))

    def answer(self, path: str, answer: Answer) -> None:
        with self._lock:
            self._answers[path] = answer

    def release(self, *, answer: bool = False) -> None:
        """End every hanging request: closed without an answer, or answered 200 ok."""
        self._answer_after_release = answer
        self._released.set()

    def _record(self, hit: Hit) -> Answer:
        with self._lock:
            self._hits.append(hit)
            return self._answers.get(hit.path.split("?", 1)[0], self.default)

    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def _wake(self) -> None:
        self._stopping.set()
        self._released.set()
