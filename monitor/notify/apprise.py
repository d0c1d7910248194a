"""Apprise: one notifier kind for Telegram, Teams, Discord, Matrix, ntfy, Pushover and the
other services the Apprise library speaks, each given as a URL (``urls: [...]``).

Apprise URLs usually carry the credentials (a bot token, a webhook path), so they are
secrets: they never appear in a log line, an error, ``check``, ``status`` or ``alerts``.
Failures are described by the URL's position and scheme only (``url 2 (tgram)``), plus the
HTTP status Apprise reported, never by Apprise's own text. Apprise's loggers (and
urllib3's, which logs request paths) are kept out of newsmon's log for the same reason.

Apprise is synchronous (requests), and its connect/read timeouts do not bound a receiver
that drips its answer. A thread cannot be stopped, and Apprise dispatches through its
own thread pool, which Python joins at exit: a hung send would hold ``once`` and overrun
the daemon's shutdown grace. So each attempt runs this module as a child process
(``_child``; the job, URLs included, goes over stdin, never the
command line) under ``deliver.py``'s total deadline, and a cancelled attempt (deadline,
shutdown) kills it. Apprise's own timeouts are set to the same deadline. URLs of one
message that already succeeded are not sent again when it is retried in this process.

Outcome: every failed URL answered a 4xx other than 408/425/429, or cannot be loaded ->
permanent; anything else (5xx, 429, connection errors, timeouts) -> transient.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from monitor.config import Digest, Duration, NotifierSettings
from monitor.errors import PermanentDelivery, TransientDelivery
from monitor.models import Alert, Delivery
from monitor.notify.payload import digest_id
from monitor.text import clean, safe_url

if TYPE_CHECKING:
    import apprise
    import httpx

# Apprise logs request URLs and payloads, urllib3 logs request paths: both can hold the
# token. Keep them out of newsmon's handlers (a NullHandler so Python's last-resort
# handler does not print them to stderr either); _Capture reads what is needed.
for _name in ("apprise", "urllib3"):
    _logger = logging.getLogger(_name)
    _logger.propagate = False
    _logger.addHandler(logging.NullHandler())
_APPRISE_LOG = logging.getLogger("apprise")


def _scheme(url: str) -> str:
    match = re.match(r"^\s*([A-Za-z][A-Za-z0-9+.-]{0,31})://", url)
    return match.group(1).lower() if match else "?"


def _apprise() -> apprise.Apprise:
    import apprise  # noqa: PLC0415 - ~0.4 s: only when a URL is checked or sent

    # Sequential in the calling thread (Apprise's own worker pool is joined at interpreter
    # exit, so a hung send would hold the process); no persistent storage on disk.
    asset = apprise.AppriseAsset(async_mode=False, storage_mode=apprise.PersistentStoreMode.MEMORY)
    return apprise.Apprise(asset=asset)


def _loads(url: str) -> bool:
    return bool(_apprise().add(url))


class AppriseNotifier(NotifierSettings):
    kind: Literal["apprise"]
    # repr=False: the URLs are credentials (see the module docstring).
    urls: list[str] = Field(min_length=1, repr=False)
    timeout: Duration | None = None  # Apprise's connect/read timeouts; default delivery.timeout
    digest: Digest = 0.0

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for i, url in enumerate(urls, 1):
            if not _loads(url):
                # Only the position and the scheme: the rest of the URL is a secret.
                raise ValueError(
                    f"url {i} ({_scheme(url)}://…): Apprise cannot load this URL (unknown "
                    "scheme or missing parts); see the Apprise wiki for your service's URL"
                )
        return urls


def _defuse(text: str) -> str:
    """Feed text cannot mention people (@everyone, <!channel>, <@U123>) on chat services
    that read mentions in plain text."""
    text = re.sub(r"@(?=(?:everyone|here|channel)\b)", "@\u2060", text, flags=re.IGNORECASE)
    return re.sub(r"<(?=[!@#])", "‹", text)


def _text(alert: Alert) -> str:
    item = alert.item
    lines = [
        clean(item.title) or "(no title)",
        f"Rule: {clean(alert.rule_title)} · Feed: {alert.feed}"
        + (f" · Published: {clean(item.published)}" if item.published else ""),
    ]
    if alert.matched:
        lines.append("Matched: " + ", ".join(clean(m) for m in alert.matched))
    link = safe_url(item.link)
    if link:
        lines.append(link)
    if item.summary:
        lines.append(clean(item.summary, 1000))
    return _defuse("\n".join(lines))


class _Capture(logging.Handler):
    """Apprise's warnings during one send: only HTTP status codes are taken from them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.messages) < 20:
            self.messages.append(record.getMessage())


@dataclass(frozen=True)
class _Failure:
    index: int
    scheme: str
    status: int | None = None
    unloadable: bool = False

    @property
    def permanent(self) -> bool:
        if self.unloadable:
            return True
        return self.status is not None and 400 <= self.status < 500 and self.status not in (
            408, 425, 429,
        )  # fmt: skip

    def describe(self) -> str:
        what = f"url {self.index + 1} ({self.scheme})"
        if self.unloadable:
            return f"{what}: cannot be loaded"
        return f"{what}: " + (f"HTTP {self.status}" if self.status else "failed")


_STATUS = re.compile(r"error=(\d{3})\b")


def _send_sync(
    urls: list[str], title: str, body: str, timeout: float, done: set[int]
) -> list[_Failure]:
    failures: list[_Failure] = []
    for i, url in enumerate(urls):
        if i in done:
            continue
        scheme = _scheme(url)
        notifier = _apprise()
        if not notifier.add(url):
            failures.append(_Failure(i, scheme, unloadable=True))
            continue
        for j in range(len(notifier)):
            server: Any = notifier[j]
            server.socket_connect_timeout = timeout
            server.socket_read_timeout = timeout
        capture = _Capture()
        _APPRISE_LOG.addHandler(capture)
        try:
            ok = bool(notifier.notify(body=body, title=title, body_format="text"))
        except Exception:  # an Apprise plugin bug is this URL's failure, nothing more
            ok = False
        finally:
            _APPRISE_LOG.removeHandler(capture)
        if ok:
            done.add(i)
            continue
        codes = [int(m.group(1)) for msg in capture.messages for m in _STATUS.finditer(msg)]
        failures.append(_Failure(i, scheme, codes[-1] if codes else None))
    return failures


async def _run_child(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a child process; kill it if this attempt is cancelled."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from monitor.notify.apprise import _child; _child()",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        out, _ = await proc.communicate(json.dumps(job).encode("utf-8"))
    except BaseException:  # cancelled (deadline, shutdown): the send dies with it
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(proc.wait(), 5)
        raise
    try:
        result: dict[str, Any] = json.loads(out)
    except ValueError:
        raise TransientDelivery(f"the Apprise worker failed (exit {proc.returncode})") from None
    return result


def _child() -> None:
    """The child process: one job from stdin, the outcome to stdout."""
    job = json.loads(sys.stdin.buffer.read())
    done: set[int] = set(job["done"])
    failures = _send_sync(job["urls"], job["title"], job["body"], job["timeout"], done)
    doc = {
        "done": sorted(done),
        "failures": [[f.index, f.scheme, f.status, f.unloadable] for f in failures],
    }
    sys.stdout.write(json.dumps(doc))


@dataclass
class AppriseSender:
    name: str
    config: AppriseNotifier
    max_batch = 50
    # message id -> indexes of URLs that already have it (bounded, this process only)
    _done: OrderedDict[str, set[int]] = field(default_factory=OrderedDict)

    @classmethod
    def build(cls, name: str, config: NotifierSettings, client: httpx.AsyncClient) -> AppriseSender:
        assert isinstance(config, AppriseNotifier)
        return cls(name, config)

    async def send(self, delivery: Delivery) -> str | None:
        alert = delivery.alert
        title = f"[newsmon] {clean(alert.rule_title)}: {clean(alert.item.title) or '(no title)'}"
        return await self._send(delivery.id, _defuse(clean(title, 250)), _text(alert))

    async def send_digest(self, deliveries: list[Delivery]) -> str | None:
        rules = ", ".join(sorted({clean(d.alert.rule_title) for d in deliveries}))
        title = _defuse(clean(f"[newsmon] digest: {len(deliveries)} alerts ({rules})", 250))
        body = "\n\n".join(_text(d.alert) for d in deliveries)
        return await self._send(digest_id(deliveries), title, body)

    async def _send(self, key: str, title: str, body: str) -> str | None:
        done = self._done.setdefault(key, set())
        self._done.move_to_end(key)
        while len(self._done) > 1000:
            self._done.popitem(last=False)
        urls = list(self.config.urls)
        job = {
            "urls": urls, "title": title, "body": body,
            "timeout": self.config.timeout or 30.0, "done": sorted(done),
        }  # fmt: skip
        result = await _run_child(job)
        done.update(int(i) for i in result["done"])
        failures = [_Failure(int(f[0]), str(f[1]), f[2], bool(f[3])) for f in result["failures"]]
        what = f"apprise {self.name}"
        if not failures:
            self._done.pop(key, None)
            return None
        detail = f"{what}: {len(failures)} of {len(urls)} URLs failed: " + "; ".join(
            f.describe() for f in failures
        )
        if all(f.permanent for f in failures):
            raise PermanentDelivery(detail)
        raise TransientDelivery(detail)
