"""An HTTPS feed server on 127.0.0.1 with a throw-away self-signed certificate
(``openssl req -x509 ... -subj /CN=localhost``), for "TLS failure, no insecure fallback".

``requests`` counts the HTTP requests that got through a TLS handshake (expected: 0 for
a client that verifies certificates); ``handshakes`` counts the attempts.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.faults.threaded import ThreadedServer


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """(cert, key) for CN=localhost, valid one day, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        self.server.owner.handshakes += 1
        conn: ssl.SSLSocket = self.request
        conn.settimeout(10)
        conn.do_handshake()  # raises for a client that refuses the certificate
        super().setup()

    def do_GET(self) -> None:
        self.server.owner.requests += 1
        body = self.server.owner.body
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: TLSServer, context: ssl.SSLContext) -> None:
        self.owner = owner
        self.context = context
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = self.socket.accept()
        # The handshake runs in the handler thread, so a refusing client cannot stall
        # the accept loop.
        return self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed handshakes are the point of this server


class TLSServer(ThreadedServer):
    def __init__(self, folder: Path, body: bytes = b"<rss/>") -> None:
        cert, key = self_signed_cert(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.cert = cert
        self.body = body
        self.handshakes = 0
        self.requests = 0
        super().__init__(_Server(self, context))

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"
