"""An SMTP server that stalls mid-conversation: it greets, then answers EHLO/HELO one byte
per second and never finishes the reply line. Each read a client makes gets a byte in
time, so a per-read timeout never fires: only a deadline on the whole conversation ends
it. Bounded: each connection drips for at most ``MAX_SECONDS``, at most 32 connections.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

MAX_SECONDS = 60.0
_REPLY = b"250-stalling.test says hello, very slowly " * 8


class StallingSMTP:
    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections = 0
        self.dripping = threading.Event()  # set once a client is being dripped to
        self._accept = threading.Thread(target=self._loop, daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            if self.connections > 32:
                conn.close()
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        started = time.monotonic()
        try:
            conn.settimeout(1.0)
            conn.sendall(b"220 stalling.test ESMTP\r\n")
            data = b""
            while b"\n" not in data and not self._stop.is_set():
                try:
                    data += conn.recv(1024)
                except TimeoutError:
                    continue
                if time.monotonic() - started > MAX_SECONDS:
                    return
            self.dripping.set()
            for byte in _REPLY:
                if self._stop.is_set() or time.monotonic() - started > MAX_SECONDS:
                    return
                conn.sendall(bytes([byte]))
                self._stop.wait(1.0)
        except OSError:
            return
        finally:
            conn.close()

    def __enter__(self) -> Self:
        self._accept.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._accept.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._sock.close()
