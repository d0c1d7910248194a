"""The settings models of ``config.yaml``: every key, its default and its checks, and
``Config``, the validated whole that the rest of newsmon reads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from monitor import __version__
from monitor.config.validation import Count, Digest, Duration, Size, Strict
from monitor.config.yamlfile import Marks
from monitor.models import PostgresURL, is_postgres_url

SLUG = r"^[a-z0-9][a-z0-9._-]{0,63}$"
DEFAULT_USER_AGENT = (
    f"newsmon/{__version__} (news alert monitor; +https://pypi.org/project/newsmon/)"
)


def _check_http_url(url: str) -> None:
    """Refuse what httpx would only refuse at poll time, with what is wrong."""
    if re.search(r"\s", url) or any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValueError("not a URL: it contains a space or a control character")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises on a port outside 0-65535 or not a number)
    except ValueError:
        raise ValueError("not a URL: the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("not a URL: no host (e.g. https://www.example.org/rss)")


class FeedConfig(Strict):
    name: str = Field(pattern=SLUG)
    url: str = Field(min_length=1)
    interval: Duration | None = None
    tags: list[str] = []
    enabled: bool = True
    backfill: bool = False
    outlet: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", url)
        if scheme and scheme.group(1).lower() not in ("http", "https", "file"):
            raise ValueError(
                f"unsupported URL scheme {scheme.group(1)}: (use http(s)://, file:// or a path)"
            )
        if scheme and scheme.group(1).lower() in ("http", "https"):
            _check_http_url(url)
        return url

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not re.fullmatch(SLUG, tag):
                raise ValueError(f"tag {tag!r} must be lower-case letters, digits, . _ -")
        return tags


class NotifierSettings(Strict):
    """What every notifier kind's settings have; each file in ``monitor/notify/`` owns a
    subclass with its ``kind`` literal and its own keys, listed in ``notify.KINDS``."""

    kind: str
    digest: Digest = 0.0


NotifierModels = Mapping[str, type[NotifierSettings]]


class Defaults(Strict):
    notify: list[str] = []
    ops_notify: list[str] = []


class PollConfig(Strict):
    # A zero tick, deadline or size cap cannot work (max_body: -1 failed every feed).
    tick: Duration = Field(default=30.0, gt=0)
    min_interval: Duration = 60.0
    max_interval: Duration = 86400.0
    default_interval: Duration = 600.0
    timeout: Duration = Field(default=60.0, gt=0)
    connect_timeout: Duration = Field(default=10.0, gt=0)
    read_timeout: Duration = Field(default=20.0, gt=0)
    max_body: Size = Field(default=10 * 1024 * 1024, gt=0)
    max_entries: Count = Field(default=500, ge=1)
    concurrency: Count = Field(default=16, ge=1, le=256)
    per_host: Count = Field(default=2, ge=1, le=64)
    user_agent: str = DEFAULT_USER_AGENT
    notify_after_failures: Count = Field(default=5, ge=1)
    notify_after: Duration = 6 * 3600.0
    learn_redirects: bool = True
    allow_private_redirects: bool = False
    # How long a claimed feed stays with its worker: a worker that dies mid-poll loses
    # it to the others after this long. Default: timeout + 60s.
    lease: Duration | None = None

    @model_validator(mode="after")
    def _lease(self) -> PollConfig:
        if self.lease is not None and self.lease <= self.timeout:
            raise ValueError("lease must be longer than poll.timeout (a poll's deadline)")
        return self

    @property
    def lease_seconds(self) -> float:
        return self.lease if self.lease is not None else self.timeout + 60


class DeliveryConfig(Strict):
    tick: Duration = Field(default=15.0, gt=0)
    # Total deadline of one delivery attempt (connect, TLS, request, the whole answer; for
    # email the whole SMTP conversation): a receiver that drips cannot hold a send longer.
    timeout: Duration = Field(default=30.0, gt=0)
    max_attempts: Count = Field(default=12, ge=1)
    max_age: Duration = 86400.0
    backoff_base: Duration = 5.0  # 0: a failed row is due again at once (tests use it)
    backoff_cap: Duration = 3600.0
    shutdown_grace: Duration = 20.0
    # A send in flight when its worker died is resent (same id) after this long.
    lease: Duration = 300.0


class DedupeConfig(Strict):
    title_window: Duration = 7 * 86400.0


class StoriesConfig(Strict):
    window: Duration = 72 * 3600.0


class RetentionConfig(Strict):
    items: Duration = 90 * 86400.0
    alerts: Duration = 365 * 86400.0


class ConfigFile(Strict):
    """``config.yaml`` as written; ``load_config`` checks across keys and builds a ``Config``."""

    database: str = "state/newsmon.db"
    rules_dir: str = "rules"
    feeds: list[FeedConfig] = []
    notifiers: dict[str, dict[str, Any]] = {}
    defaults: Defaults = Defaults()
    poll: PollConfig = PollConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    dedupe: DedupeConfig = DedupeConfig()
    retention: RetentionConfig = RetentionConfig()
    stories: StoriesConfig = StoriesConfig()
    feed_files: list[str] = []
    watch: bool = True

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        # A URL-looking value that is not PostgreSQL would otherwise become a file path.
        scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", value)
        if scheme and not is_postgres_url(value):
            raise ValueError(
                f"unsupported database URL scheme {scheme.group(1)}: "
                "(use a SQLite file path or postgresql://user:password@host:5432/dbname)"
            )
        if scheme:
            parts = urlsplit(value)
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                raise ValueError("the database URL's port must be a number") from None
            if not parts.hostname or not parts.path.strip("/"):
                raise ValueError(
                    "a PostgreSQL URL needs a host and a database name: "
                    "postgresql://user:password@host:5432/dbname"
                )
        return value


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path | PostgresURL  # a SQLite file, or a shared PostgreSQL database
    rules_dir: Path
    feeds: tuple[FeedConfig, ...]
    notifiers: dict[str, NotifierSettings]
    defaults: Defaults
    poll: PollConfig
    delivery: DeliveryConfig
    dedupe: DedupeConfig
    marks: Marks = field(repr=False)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    watch: bool = True
    files: tuple[Path, ...] = ()  # config.yaml and every feed file it pulled in
    stories: StoriesConfig = field(default_factory=StoriesConfig)
    # Where each feed is written (file marks, key path) and its url as written there.
    feed_marks: dict[str, tuple[Marks, tuple[str | int, ...]]] = field(
        default_factory=dict, repr=False
    )
    feed_written: dict[str, str] = field(default_factory=dict, repr=False)

    def feed_interval(self, feed: FeedConfig) -> float:
        return feed.interval if feed.interval is not None else self.poll.default_interval

    def feed_source(self, feed: FeedConfig) -> str:
        """The URL to fetch, or an absolute local path (resolved against the config dir)."""
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", feed.url) and not feed.url.startswith(
            "file://"
        ):
            return feed.url
        raw = feed.url.removeprefix("file://")
        return str((self.path.parent / raw).resolve())

    @property
    def tags(self) -> set[str]:
        return {tag for feed in self.feeds for tag in feed.tags}
