"""The lifecycle the loopback fault servers share: serve on a daemon thread while the
``with`` block runs, then wake whatever is waiting, shut down, close, join (bounded)."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Self


class ThreadedServer:
    def __init__(self, server: socketserver.BaseServer) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])  # type: ignore[index]

    def _wake(self) -> None:
        """Release handlers that sleep or hang on purpose, before shutting down."""

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._wake()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
