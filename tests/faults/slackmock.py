"""Loopback HTTP receivers that answer from a script: a generic one and a Slack mock.

:class:`ScriptedReceiver` records every request (any method, any path) with its arrival
time and answers from a queue of :class:`Reply` entries (status, body, headers, and an
optional delay before answering), else 200 "ok". It is the receiver for "slow first
attempt", "answer 302" and similar webhook cases.

:class:`SlackMock` is a Slack incoming-webhook mock. Besides the script it ENFORCES
Slack's documented limits on every POST body (docs/reliability.md):

* the body is a JSON object (else 400 ``invalid_payload``);
* ``text`` is present and non-empty;
* at most 50 blocks; every text object (section text, section fields, context elements,
  header) at most 3000 characters (header 150, field 2000);
* the whole message (``text`` plus every block text) at most 40,000 characters;
* every block parses and validates as slack_sdk's Block Kit model says;
* mrkdwn is well formed: every ``<`` opens a link or mention that ``>`` closes before the
  next ``<``, and every ``&`` starts one of the three escapes Slack documents
  (``&amp;``, ``&lt;``, ``&gt;``), so no text ends inside a link or an entity.

A violation is recorded on the :class:`Post` and answered 400 ``invalid_blocks`` unless the
script asked for an error anyway (a scripted 429/500 still wins: Slack rate-limits before
it looks at the body).

Both bind ``127.0.0.1`` (port 0 unless a port is given: "connection refused, then the
service comes up on that port"), run a ``ThreadingHTTPServer`` in a daemon thread, bound
every socket operation, body size, sleep and record count, and ``stop()`` shuts them down
(a handler sleeping in a scripted delay wakes up at once).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

__all__ = [
    "Post",
    "Reply",
    "ScriptedReceiver",
    "SlackMock",
    "rate_limited",
    "slack_error",
    "slow",
]

_HOST = "127.0.0.1"
_SOCKET_TIMEOUT = 10.0
_MAX_BODY = 4 * 1024 * 1024
_MAX_RECORDS = 10_000
_MAX_DELAY = 60.0

SLACK_MAX_BLOCKS = 50
SLACK_MAX_TEXT = 3000  # section text and any other text object
SLACK_MAX_FIELD = 2000  # each section field
SLACK_MAX_HEADER = 150  # header block plain_text
SLACK_MAX_MESSAGE = 40_000


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``delay``: seconds to sleep before answering (bounded)."""

    status: int = 200
    body: str = "ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


def rate_limited(retry_after: int) -> Reply:
    """Slack's 429 with ``Retry-After`` (seconds)."""
    return Reply(429, "rate_limited", {"Retry-After": str(retry_after)})


def slack_error(status: int, code: str) -> Reply:
    """A Slack error such as ``slack_error(404, "channel_not_found")``."""
    return Reply(status, code)


def slow(seconds: float, then: Reply | None = None) -> Reply:
    """Sleep ``seconds`` before answering ``then`` (default 200 "ok")."""
    base = then or Reply()
    return Reply(base.status, base.body, base.headers, seconds)


@dataclass(frozen=True)
class Post:
    """One recorded request."""

    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    raw: bytes
    status: int  # the status answered
    violations: tuple[str, ...] = ()

    def json(self) -> Any:
        return json.loads(self.raw)

    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: ScriptedReceiver, port: int) -> None:
        self.owner = owner
        super().__init__((_HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) while a scripted delay ran is expected.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    timeout = _SOCKET_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        cast(_Server, self.server).owner._handle(self)

    do_GET = _dispatch
    do_HEAD = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch


class ScriptedReceiver:
    """Records every request; answers from the script (per path, then any path), else
    200 "ok"."""

    def __init__(self, port: int = 0) -> None:
        self._wanted_port = port
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._posts: list[Post] = []
        self._scripts: dict[str | None, deque[Reply]] = {}
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = port

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        httpd = _Server(self, self._wanted_port)
        self._port = int(httpd.server_address[1])
        thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._httpd, self._thread = httpd, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (safe to call twice; the script is kept, so
        the same object can be started again on the same port)."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        self._stopping.set()
        if httpd is None:
            return
        if thread is not None and thread.is_alive():
            httpd.shutdown()
            thread.join(5)
        httpd.server_close()
        self._wanted_port = self._port  # a restart reuses the port the URLs name

    def __enter__(self) -> Self:
        return self if self._httpd is not None else self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str = "/hook") -> str:
        return f"http://{_HOST}:{self._port}{path}"

    # -- script and records --------------------------------------------------------------

    def script(self, *replies: Reply, path: str | None = None) -> None:
        """Queue replies for the next requests to ``path`` (None: to any path)."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    @property
    def posts(self) -> list[Post]:
        with self._lock:
            return list(self._posts)

    def posts_to(self, path: str) -> list[Post]:
        return [p for p in self.posts if p.path == path]

    def wait_for(self, n: int, timeout: float = 10.0, path: str | None = None) -> bool:
        """Wait until ``n`` requests (to ``path``, if given) were recorded."""

        def enough() -> bool:
            return sum(1 for p in self._posts if path is None or p.path == path) >= n

        with self._cond:
            return self._cond.wait_for(enough, timeout)

    def check(self, raw: bytes) -> list[str]:
        """Body checks of a subclass; a non-empty list is answered by :meth:`rejection`."""
        return []

    def rejection(self, violations: list[str]) -> Reply:
        return Reply(400, "invalid_request")

    # -- serving -------------------------------------------------------------------------

    def _next_reply(self, path: str) -> Reply:
        for key in (path, None):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return Reply()

    def _handle(self, handler: _Handler) -> None:
        arrived, wall = time.monotonic(), time.time()
        raw = b""
        length = handler.headers.get("Content-Length")
        if length and length.isdigit():
            size = int(length)
            if size > _MAX_BODY:
                self._answer(handler, Reply(413, "too large"))
                return
            raw = handler.rfile.read(size)
        violations = self.check(raw) if handler.command == "POST" else []
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._cond:
            reply = self._next_reply(handler.path)
            if violations and 200 <= reply.status < 300:
                reply = self.rejection(violations)
            if len(self._posts) < _MAX_RECORDS:
                self._posts.append(
                    Post(
                        arrived, wall, handler.command, handler.path, headers, raw,
                        reply.status, tuple(violations),
                    )
                )  # fmt: skip
            self._cond.notify_all()
        if reply.delay > 0:
            self._stopping.wait(min(reply.delay, _MAX_DELAY))
        self._answer(handler, reply)

    def _answer(self, handler: _Handler, reply: Reply) -> None:
        body = reply.body.encode("utf-8")
        try:
            handler.send_response(reply.status)
            names = {k.lower() for k in reply.headers}
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            if "content-type" not in names:
                handler.send_header("Content-Type", "text/plain; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(body)
        except OSError:
            pass  # the client left (e.g. it timed out during the scripted delay)


def _text_objects(blocks: list[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, text object) for every text object in the blocks Slack would render."""
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if isinstance(block.get("text"), dict):
            yield f"blocks[{i}] {kind} text", block["text"]
        for j, fld in enumerate(block.get("fields") or []):
            if isinstance(fld, dict):
                yield f"blocks[{i}] {kind} fields[{j}]", fld
        for j, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                yield f"blocks[{i}] {kind} elements[{j}]", element


_ENTITY = re.compile(r"&(?!(?:amp|lt|gt);)")


def mrkdwn_violations(where: str, text: str) -> list[str]:
    """Links and mentions closed, entities whole (Slack's mrkdwn formatting rules)."""
    problems: list[str] = []
    depth_at = -1
    for i, ch in enumerate(text):
        if ch == "<":
            if depth_at >= 0:
                problems.append(f"{where}: '<' at {i} inside the link opened at {depth_at}")
            depth_at = i
        elif ch == ">":
            if depth_at < 0:
                problems.append(f"{where}: raw '>' at {i} (must be &gt;)")
            depth_at = -1
    if depth_at >= 0:
        problems.append(f"{where}: link opened at {depth_at} is never closed")
    for m in _ENTITY.finditer(text):
        problems.append(
            f"{where}: broken entity at {m.start()}: {text[m.start() : m.start() + 8]!r}"
        )
    return problems


def block_kit_violations(blocks: list[Any]) -> list[str]:
    """What slack_sdk's Block Kit models refuse."""
    problems: list[str] = []
    for i, raw in enumerate(blocks):
        try:
            block = Block.parse(raw)
            if block is None:
                problems.append(f"blocks[{i}]: unknown block type {raw!r:.80}")
                continue
            block.validate_json()
        except (SlackObjectFormationError, TypeError, KeyError, ValueError) as exc:
            problems.append(f"blocks[{i}]: Block Kit: {exc}")
    return problems


def slack_violations(raw: bytes) -> list[str]:
    """Every way ``raw`` breaks Slack's documented incoming-webhook limits."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"invalid_payload: body is not UTF-8 JSON ({exc})"]
    if not isinstance(doc, dict):
        return ["invalid_payload: body is not a JSON object"]
    problems: list[str] = []
    text = doc.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append("text: missing or empty (required as the notification fallback)")
        text = ""
    total = len(text)
    problems += mrkdwn_violations("text", text)
    if len(text) > SLACK_MAX_MESSAGE:
        problems.append(f"text: {len(text)} chars > {SLACK_MAX_MESSAGE}")
    blocks = doc.get("blocks", [])
    if not isinstance(blocks, list):
        problems.append("blocks: not a list")
        blocks = []
    if len(blocks) > SLACK_MAX_BLOCKS:
        problems.append(f"blocks: {len(blocks)} > {SLACK_MAX_BLOCKS}")
    for where, obj in _text_objects(blocks):
        value = obj.get("text")
        if obj.get("type") not in ("mrkdwn", "plain_text") or not isinstance(value, str):
            problems.append(f"{where}: not a mrkdwn/plain_text object")
            continue
        limit = SLACK_MAX_TEXT
        if " fields[" in where:
            limit = SLACK_MAX_FIELD
        elif where.endswith("header text"):
            limit = SLACK_MAX_HEADER
        if len(value) > limit:
            problems.append(f"{where}: {len(value)} chars > {limit}")
        if obj.get("type") == "mrkdwn":
            problems += mrkdwn_violations(where, value)
        total += len(value)
    if total > SLACK_MAX_MESSAGE:
        problems.append(f"message: {total} chars > {SLACK_MAX_MESSAGE}")
    problems += block_kit_violations(blocks)
    return problems


class SlackMock(ScriptedReceiver):
    """A Slack incoming webhook: scripted answers plus enforced message limits."""

    def url(self, path: str = "/services/T000/B000/XXXXXXXX") -> str:
        return super().url(path)

    def check(self, raw: bytes) -> list[str]:
        return slack_violations(raw)

    def rejection(self, violations: list[str]) -> Reply:
        if any(v.startswith("invalid_payload") for v in violations):
            return Reply(400, "invalid_payload")
        return Reply(400, "invalid_blocks")

    @property
    def violations(self) -> list[str]:
        return [v for p in self.posts for v in p.violations]
