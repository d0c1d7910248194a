"""A read-only HTTP side door into the running daemon: ``/healthz``, ``/metrics`` and a
status page for people (``/``), rendered by :mod:`monitor.service.webpage`.

It runs a stdlib ``ThreadingHTTPServer`` on a daemon thread. The daemon's own SQLite
connection belongs to the event loop thread, so every request that reads the database
opens its own read-only connection and closes it before answering. Only GET and HEAD are
served; the page has no scripts and a Content-Security-Policy that forbids them anyway.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import StateError
from monitor.models import PostgresURL
from monitor.service import metrics
from monitor.service.webpage import CHART_DAYS, DAY, render_page
from monitor.store import Store

log = logging.getLogger("newsmon.web")

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
RECENT_ALERTS = 30
HEALTH_GRACE = 30.0  # seconds on top of three poll ticks before /healthz says "stale"
_SOCKET_TIMEOUT = 10.0  # a silent client cannot hold a handler thread longer than this


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, host: str, port: int, db_path: Path | PostgresURL, info: Callable[[], dict[str, Any]]
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.db_path = db_path
        self.info = info
        super().__init__((host, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "newsmon"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version  # the default appends sys_version after a space

    timeout = _SOCKET_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- methods -----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _refuse(self) -> None:
        self._send(405, b"method not allowed: this server is read-only\n", "text/plain",
                   body=True, extra={"Allow": "GET, HEAD"})  # fmt: skip

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    # -- routes ------------------------------------------------------------------------

    def _serve(self, *, body: bool) -> None:
        path = urlsplit(self.path).path
        try:
            if path == "/healthz":
                status, payload = healthz(self.server.info(), time.time())
                data = json.dumps(payload, ensure_ascii=False).encode() + b"\n"
                self._send(status, data, "application/json", body=body)
            elif path == "/metrics":
                self._send(200, metrics.render(), METRICS_TYPE, body=body)
            elif path == "/":
                page = status_page(self.server.db_path, self.server.info(), time.time())
                self._send(200, page.encode(), "text/html; charset=utf-8", body=body)
            else:
                self._send(404, b"not found\n", "text/plain", body=body)
        except StateError as exc:
            log.warning("status page: %s", exc)
            self._send(503, f"database unavailable: {exc}\n".encode(), "text/plain", body=body)
        except Exception:
            log.exception("status server: %s failed", path)
            self._send(500, b"internal error (see the daemon log)\n", "text/plain", body=body)

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        *,
        body: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        if content_type == "text/plain":
            content_type += "; charset=utf-8"
        self.send_response(status)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "Cache-Control": "no-store",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            **(extra or {}),
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)


def healthz(info: dict[str, Any], now: float) -> tuple[int, dict[str, Any]]:
    """200 while the poll tick runs (heartbeat younger than 3 ticks + 30 s), else 503.
    A failed reload is reported but is not unhealthy: the last good config still runs."""
    age = max(0.0, now - float(info["heartbeat"]))
    fresh = age < 3 * float(info["tick"]) + HEALTH_GRACE
    doc = {
        "status": "ok" if fresh else "stale",
        "heartbeat_age": round(age, 3),
        "reload_error": info.get("reload_error"),
        "version": info.get("version"),
    }
    return (200 if fresh else 503), doc


def status_page(db_path: Path | PostgresURL, info: dict[str, Any], now: float) -> str:
    """Read what the page shows through a private read-only connection, then render."""
    store = Store(db_path, lock=False, readonly=True)
    try:
        states = store.feed_states()
        alerts = store.recent_alerts(RECENT_ALERTS)
        by_day = store.alerts_by_day((now // DAY - (CHART_DAYS - 1)) * DAY)
        health = store.health(now)
    finally:
        store.close()
    return render_page(info, states, alerts, by_day, health, now)


class StatusServer:
    """Serves /healthz, /metrics and a read-only status page on a background thread."""

    def __init__(
        self, host: str, port: int, db_path: Path | PostgresURL, info: Callable[[], dict[str, Any]]
    ) -> None:
        self.host, self.port, self.db_path, self.info = host, port, db_path, info
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind (``port`` 0 picks a free one) and serve; ``host``/``port`` become the
        bound address. Raises ``OSError`` (one clear line) when it cannot bind."""
        if self._server is not None:
            return
        try:
            server = _Server(self.host, self.port, self.db_path, self.info)
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot serve the status page on {self.host}:{self.port}: {exc.strerror}",
            ) from None
        self.host, self.port = str(server.server_address[0]), int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5},
            name="newsmon-http", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice or before start()."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
