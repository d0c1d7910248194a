"""The error tree of newsmon.

Every error newsmon raises on purpose derives from ``NewsmonError`` and carries a message
that is safe to print on one line (no tracebacks reach users for these)::

    NewsmonError
    ├── ConfigError          config.yaml or a rule file is invalid; holds Problem rows
    │                        (file, line, col, key path, message); exit code 2
    ├── StateError           the SQLite state cannot be used
    │   └── LockedError      another newsmon process holds the database lock
    ├── FeedError            one feed poll failed; the other feeds go on
    │   ├── FetchError       transport level: DNS, connect, TLS, reset, timeout
    │   │   ├── FetchTimeout       the total deadline or a per-read timeout fired
    │   │   ├── HTTPStatusError    a non-2xx/304 answer (carries status, Retry-After)
    │   │   ├── TooManyRedirects   redirect loop or more hops than allowed
    │   │   ├── RedirectRefused    public address redirected to a private one
    │   │   └── ResponseTooLarge   decoded body above the configured cap
    │   └── ParseError       the body is not a usable feed
    │       ├── NotAFeed           HTML page, empty body, unknown format, broken JSON
    │       └── FeedRefused        the document declares XML entities (see parse.py)
    └── DeliveryError        one notifier could not deliver one alert
        ├── TransientDelivery  retry later (timeouts, 429, 5xx, SMTP 4xx); may carry
        │                      a Retry-After delay
        └── PermanentDelivery  do not retry (4xx, Slack invalid_payload, SMTP 5xx); with
                               disable=True the notifier is switched off (410)
"""

from __future__ import annotations

from dataclasses import dataclass


class NewsmonError(Exception):
    """Base class of every error newsmon raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One validation problem, printed as ``file:line[:col]: key.path: message``."""

    file: str
    line: int | None
    col: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(NewsmonError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StateError(NewsmonError):
    pass


class LockedError(StateError):
    pass


class FeedError(NewsmonError):
    """A feed poll failed. ``retry_after`` (seconds) is a server-given floor, if any."""

    retry_after: float | None = None


class FetchError(FeedError):
    pass


class FetchTimeout(FetchError):
    pass


class HTTPStatusError(FetchError):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class TooManyRedirects(FetchError):
    pass


class RedirectRefused(FetchError):
    pass


class ResponseTooLarge(FetchError):
    pass


class ParseError(FeedError):
    pass


class NotAFeed(ParseError):
    pass


class FeedRefused(ParseError):
    pass


class DeliveryError(NewsmonError):
    pass


class TransientDelivery(DeliveryError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDelivery(DeliveryError):
    """``disable``: the receiver is gone for good (HTTP 410, an archived Slack channel);
    stop using the notifier until its configuration changes."""

    def __init__(self, message: str, *, disable: bool = False) -> None:
        super().__init__(message)
        self.disable = disable
