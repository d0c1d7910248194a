"""Loopback HTTP servers for tests (stdlib only).

* :class:`FeedServer` serves in-memory feed documents with ETag / Last-Modified support,
  scripted responses (500, 429 + Retry-After, ...) and redirects.
* :class:`WebhookReceiver` records the requests POSTed to it.
* :func:`free_port` returns a port with nothing listening (for "connection refused").

Each server binds ``127.0.0.1`` on an ephemeral port and runs a
:class:`http.server.ThreadingHTTPServer` in a daemon thread. Use them as context managers
(or call ``start()`` / ``stop()``); ``stop()`` shuts the loop down and closes the socket.
Connections are HTTP/1.0 (closed after each response), and every socket operation has a
timeout, so a misbehaving client cannot hang a test.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self, cast

__all__ = [
    "CannedResponse",
    "FeedServer",
    "RecordedRequest",
    "WebhookReceiver",
    "free_port",
]

#: ``(status, headers, body)`` — one scripted response.
CannedResponse = tuple[int, dict[str, str], bytes]

_HOST = "127.0.0.1"
_SOCKET_TIMEOUT = 10.0  # seconds a handler waits on a silent client
_STOP_TIMEOUT = 5.0  # seconds stop() waits for the serving thread
_MAX_BODY = 16 * 1024 * 1024  # request bodies larger than this are refused (413)
_MAX_CHUNKS = 100_000  # bound on chunked transfer-encoding loops


# Sockets holding free_port() reservations, kept open for the life of the test process.
_reserved: list[socket.socket] = []
_reserved_lock = threading.Lock()


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on, and keep it reserved.

    The port stays bound (never listening) by a socket this process keeps open, so
    connecting to it is refused, and no other ``bind`` to port 0 — a server of a test
    running beside this one in another xdist worker, say — can be handed it. A server a
    test starts on it later ("down, then up on the same port") binds with SO_REUSEADDR
    (``ThreadingHTTPServer``, aiosmtpd, Go's net/http and newsmon's web server all do)
    and listens as usual.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((_HOST, 0))
    with _reserved_lock:
        _reserved.append(sock)
    port: int = sock.getsockname()[1]
    return port


@dataclass(frozen=True)
class RecordedRequest:
    """One request received by a test server."""

    method: str
    #: Request target as sent, including any query string (e.g. ``"/a.xml?x=1"``).
    path: str
    #: Header names lower-cased; repeated headers are joined with ``", "``.
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        """The body decoded as JSON (raises ``ValueError`` if it is not JSON)."""
        return json.loads(self.body)

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


class _BodyTooLargeError(Exception):
    pass


@dataclass
class _Document:
    body: bytes
    content_type: str
    headers: dict[str, str]
    etag: str
    last_modified: int  # Unix seconds


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[RecordedRequest] = field(default_factory=list)


def _http_date(ts: int) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _parse_http_date(value: str) -> int | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 9110 dates are GMT
        return int(parsed.replace(tzinfo=dt.UTC).timestamp())
    return int(parsed.timestamp())


def _strip_query(path: str) -> str:
    return path.split("?", 1)[0].split("#", 1)[0]


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if not etag:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def _lower_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: _LoopbackServer) -> None:
        self.owner = owner
        super().__init__((_HOST, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up or time out are normal in tests; anything else is a bug
        # in this module, so keep the traceback.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    timeout = _SOCKET_TIMEOUT
    server_version = "newsmon-test"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests inspect ``requests`` / ``received`` instead of logs."""

    def _dispatch(self) -> None:
        owner = cast(_HTTPServer, self.server).owner
        owner._handle(self)

    do_GET = _dispatch
    do_HEAD = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_PATCH = _dispatch
    do_DELETE = _dispatch
    do_OPTIONS = _dispatch

    # -- helpers used by the owners ------------------------------------------------------

    def header_dict(self) -> dict[str, str]:
        return _lower_headers(self.headers.items())

    def read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked), bounded by ``_MAX_BODY``."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            return b""
        if length > _MAX_BODY:
            raise _BodyTooLargeError
        return self.rfile.read(max(length, 0))

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        for _ in range(_MAX_CHUNKS):
            size_line = self.rfile.readline(1024)
            if not size_line:
                break
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailers end with an empty line; read a bounded number of them.
                for _ in range(100):
                    line = self.rfile.readline(8192)
                    if line in (b"\r\n", b"\n", b""):
                        break
                break
            total += size
            if total > _MAX_BODY:
                raise _BodyTooLargeError
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)  # CRLF after the chunk
        return b"".join(parts)

    def respond(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Send a full response; a header value of ``""`` means "omit this header"."""
        send_body = self.command != "HEAD" and status not in (204, 304) and status >= 200
        self.send_response(status)
        names = {name.lower() for name in headers}
        for name, value in headers.items():
            if value != "":
                self.send_header(name, value)
        if "content-length" not in names and status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)


class _LoopbackServer:
    """Start/stop/context-manager plumbing shared by the test servers."""

    _kind: ClassVar[str] = "server"

    def __init__(self) -> None:
        self._state = _State()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread. Returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError(f"{self._kind} already started")
        httpd = _HTTPServer(self)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self._kind}-{httpd.server_address[1]}",
            daemon=True,
        )
        self._httpd, self._thread = httpd, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket. Safe to call more than once."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        if thread is not None and thread.is_alive():
            httpd.shutdown()
            thread.join(_STOP_TIMEOUT)
        httpd.server_close()

    def __enter__(self) -> Self:
        return self if self._httpd is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{self._kind} not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``"http://127.0.0.1:PORT"`` (no trailing slash)."""
        return f"http://{_HOST}:{self.port}"

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + ("" if path.startswith("/") else "/") + path

    # -- recording -----------------------------------------------------------------------

    def _record(self, handler: _Handler, body: bytes) -> RecordedRequest:
        record = RecordedRequest(handler.command, handler.path, handler.header_dict(), body)
        with self._state.lock:
            self._state.records.append(record)
        return record

    def _handle(self, handler: _Handler) -> None:
        raise NotImplementedError


class FeedServer(_LoopbackServer):
    """Serves in-memory documents with conditional GET, scripted responses and redirects.

    For a request path, the order is: queued :meth:`script` responses first, then a
    :meth:`redirect`, then the :meth:`put` document, else 404. Paths are matched exactly,
    then without their query string. Methods other than GET/HEAD get 405.
    """

    _kind = "FeedServer"

    def __init__(self) -> None:
        super().__init__()
        self._docs: dict[str, _Document] = {}
        self._scripts: dict[str, deque[CannedResponse]] = {}
        self._redirects: dict[str, tuple[str, int]] = {}

    def put(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Set or replace the document at ``path`` (and drop any redirect there).

        ETag is the quoted SHA-1 of ``body``. Last-Modified is the time of the ``put`` in
        whole seconds; it only changes when the body changes, and always moves forward
        (at least one second) when it does. ``headers`` are sent with 200 responses and
        override the defaults; a value of ``""`` omits that header — ``{"ETag": ""}``
        or ``{"Last-Modified": ""}`` model servers without validators (and disable the
        matching 304 logic).
        """
        extra = dict(headers or {})
        lowered = {k.lower(): v for k, v in extra.items()}
        etag = lowered.get("etag", f'"{hashlib.sha1(body, usedforsecurity=False).hexdigest()}"')
        with self._state.lock:
            old = self._docs.get(path)
            if old is not None and old.body == body:
                last_modified = old.last_modified
            else:
                now = int(time.time())
                last_modified = max(now, old.last_modified + 1) if old else now
            if "last-modified" in lowered:
                parsed = _parse_http_date(lowered["last-modified"])
                last_modified = parsed if parsed is not None else 0
            self._docs[path] = _Document(body, content_type, extra, etag, last_modified)
            self._redirects.pop(path, None)

    def remove(self, path: str) -> None:
        """Forget the document, script and redirect at ``path`` (it then answers 404)."""
        with self._state.lock:
            self._docs.pop(path, None)
            self._scripts.pop(path, None)
            self._redirects.pop(path, None)

    def etag(self, path: str) -> str:
        """The current ETag of the document at ``path`` (``KeyError`` if none)."""
        with self._state.lock:
            return self._docs[path].etag

    def last_modified(self, path: str) -> str:
        """The current Last-Modified HTTP date of the document at ``path``."""
        with self._state.lock:
            return _http_date(self._docs[path].last_modified)

    def script(self, path: str, responses: list[CannedResponse]) -> None:
        """Queue canned ``(status, headers, body)`` responses for ``path``.

        Each request to ``path`` pops one (in order) before falling back to the redirect or
        document. Appends to any responses still queued. ``Content-Length`` is added unless
        given in ``headers`` (give a larger one to simulate a truncated body).
        """
        with self._state.lock:
            queue = self._scripts.setdefault(path, deque())
            queue.extend((status, dict(hdrs), body) for status, hdrs, body in responses)

    def redirect(self, path: str, to_path: str, code: int = 301) -> None:
        """Answer ``path`` with ``code`` and ``Location: url(to_path)`` (absolute URL).

        ``to_path`` may also be a full ``http(s)://`` URL. Replaces any document at ``path``.
        """
        with self._state.lock:
            self._redirects[path] = (to_path, code)
            self._docs.pop(path, None)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every request received, oldest first."""
        with self._state.lock:
            return list(self._state.records)

    def count(self, path: str) -> int:
        """How many requests were made for ``path`` (query string ignored unless given)."""
        with self._state.lock:
            return sum(
                1 for r in self._state.records if r.path == path or _strip_query(r.path) == path
            )

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.records.clear()

    def _handle(self, handler: _Handler) -> None:
        try:
            body = handler.read_body()
        except _BodyTooLargeError:
            self._record(handler, b"")
            handler.respond(413, {"Content-Type": "text/plain"}, b"too large")
            return
        record = self._record(handler, body)
        raw = record.path
        bare = _strip_query(raw)
        with self._state.lock:
            key = next((p for p in (raw, bare) if self._scripts.get(p)), None)
            canned = self._scripts[key].popleft() if key is not None else None
            redirect = self._redirects.get(raw) or self._redirects.get(bare)
            doc = self._docs.get(raw) or self._docs.get(bare)
        if canned is not None:
            status, headers, payload = canned
            handler.respond(status, headers, payload)
            return
        if record.method not in ("GET", "HEAD"):
            handler.respond(405, {"Allow": "GET, HEAD", "Content-Type": "text/plain"}, b"")
            return
        if redirect is not None:
            to_path, code = redirect
            handler.respond(code, {"Location": self.url(to_path)}, b"")
            return
        if doc is None:
            handler.respond(404, {"Content-Type": "text/plain"}, b"not found")
            return
        self._serve_document(handler, record.headers, doc)

    @staticmethod
    def _serve_document(handler: _Handler, req: dict[str, str], doc: _Document) -> None:
        validators: dict[str, str] = {}
        if doc.etag:
            validators["ETag"] = doc.etag
        if doc.last_modified:
            validators["Last-Modified"] = _http_date(doc.last_modified)
        not_modified = False
        if "if-none-match" in req:
            not_modified = _etag_matches(req["if-none-match"], doc.etag)
        elif "if-modified-since" in req and doc.last_modified:
            since = _parse_http_date(req["if-modified-since"])
            not_modified = since is not None and since >= doc.last_modified
        if not_modified:
            handler.respond(304, validators, b"")
            return
        headers = {"Content-Type": doc.content_type, **validators}
        # User headers override the defaults, case-insensitively.
        user_lower = {k.lower() for k in doc.headers}
        headers = {k: v for k, v in headers.items() if k.lower() not in user_lower}
        headers.update(doc.headers)
        handler.respond(200, headers, doc.body)


class WebhookReceiver(_LoopbackServer):
    """Records POST requests (any path) and answers them from a script, default 200 "ok".

    Other methods get 405 and are not recorded.
    """

    _kind = "WebhookReceiver"
    _DEFAULT: ClassVar[CannedResponse] = (200, {"Content-Type": "text/plain"}, b"ok")

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition(self._state.lock)
        self._queue: deque[CannedResponse] = deque()

    def url(self, path: str = "/hook") -> str:
        return super().url(path)

    @property
    def received(self) -> list[RecordedRequest]:
        """Snapshot of the recorded POSTs, oldest first."""
        with self._state.lock:
            return list(self._state.records)

    def script(self, responses: list[CannedResponse]) -> None:
        """Queue ``(status, headers, body)`` responses for the next POSTs (in order)."""
        with self._state.lock:
            self._queue.extend((status, dict(hdrs), body) for status, hdrs, body in responses)

    def wait_for(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``n`` POSTs were recorded; ``False`` if ``timeout`` passed."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._state.records) >= n, timeout)

    def clear(self) -> None:
        with self._state.lock:
            self._state.records.clear()

    def _handle(self, handler: _Handler) -> None:
        if handler.command != "POST":
            handler.respond(405, {"Allow": "POST", "Content-Type": "text/plain"}, b"")
            return
        try:
            body = handler.read_body()
        except _BodyTooLargeError:
            handler.respond(413, {"Content-Type": "text/plain"}, b"too large")
            return
        record = RecordedRequest(handler.command, handler.path, handler.header_dict(), body)
        with self._cond:
            self._state.records.append(record)
            status, headers, payload = self._queue.popleft() if self._queue else self._DEFAULT
            self._cond.notify_all()
        handler.respond(status, headers, payload)
