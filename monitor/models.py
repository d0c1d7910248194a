"""Plain data passed between the stages (no I/O, no behaviour beyond small helpers)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    """One feed entry as plain, cleaned text. ``link`` is http(s) or None."""

    title: str
    summary: str
    content: str
    link: str | None
    guid: str | None
    published: str | None  # ISO 8601 UTC, "2021-11-10T03:42:00Z"
    author: str = ""
    tags: tuple[str, ...] = ()  # categories
    source: str | None = None  # the item's own <source> (publisher), when the feed names one

    def fields(self, feed: str = "") -> dict[str, str]:
        """The texts a rule can read (``fields:``); ``feed`` is the feed's name and title."""
        return {
            "title": self.title,
            "summary": self.summary,
            "content": self.content,
            "link": self.link or "",
            "author": self.author,
            "tags": " ; ".join(self.tags),
            "feed": feed,
        }


@dataclass(frozen=True)
class Evidence:
    """Why an alert fired: the rule element that hit, where, and the text around it."""

    clause: str  # where the element is in the rule: "match.all[1].any[0]"
    term: str  # the element as written (a term, "near [...] within N", a regex)
    field: str  # title, summary, content, ...
    snippet: str  # about 160 characters around the hit, cut on word boundaries


@dataclass(frozen=True)
class KeyedItem:
    """An item with the keys the dedupe and alert policy (``feeds/identity.py``) gave it.

    ``keys`` make it "already seen" for its feed, strongest first; ``story_link`` and
    ``title_key`` decide whether a rule already alerted on the same story. The store only
    executes these decisions."""

    item: Item
    keys: tuple[str, ...]
    story_link: str | None
    title_key: str | None
    story: StoryPrint | None = None


@dataclass(frozen=True)
class StoryPrint:
    """What story grouping keeps of an item (``monitor/stories``): the cleaned title and
    lead it verifies candidates with, the band keys it finds them by, and its outlet."""

    title: str
    lead: str
    keys: tuple[int, ...]  # band keys (:func:`band_key`)
    outlet: str


# The kinds of story band key, in a key's top byte: title band b is TITLE_BAND + b, lead
# band b is LEAD_BAND + b (b < 16), the canonical link is LINK_KEY.
TITLE_BAND = 1
LEAD_BAND = 17
LINK_KEY = 33


def band_key(kind: int, digest: bytes) -> int:
    """A story band key as stored: its kind in the top byte, then the first 56 bits of its
    digest. An integer (8 bytes in the index, against ~20 as text) that stays distinct
    per band and kind; a collision only adds a candidate, which verification rejects."""
    return (kind << 56) | int.from_bytes(digest[:7], "big")


@dataclass(frozen=True)
class Source:
    """One outlet that carried a story: its first copy's feed and link."""

    outlet: str
    feed: str
    url: str | None


@dataclass(frozen=True)
class ParsedFeed:
    items: list[Item]
    title: str = ""
    ttl: float | None = None  # RSS <ttl>, seconds
    skipped: int = 0  # entries without any usable identity
    truncated: int = 0  # entries dropped by the per-feed cap


@dataclass(frozen=True)
class FetchResult:
    """What a conditional GET produced. ``body`` is None on 304 / unchanged file."""

    body: bytes | None
    final_url: str
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None  # Cache-Control max-age / Expires, seconds
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    redirects: tuple[int, ...] = ()  # status codes of the redirect hops followed

    @property
    def not_modified(self) -> bool:
        return self.body is None


@dataclass(frozen=True)
class Alert:
    id: str
    rule_id: str
    rule_title: str
    feed: str
    item: Item
    matched: tuple[str, ...]
    created_at: float
    kind: str = "alert"  # "alert", or "notice" for operator notices from newsmon itself
    evidence: tuple[Evidence, ...] = ()
    story_id: str | None = None
    sources: tuple[Source, ...] = ()  # outlets carrying the story when the alert was made

    @property
    def snippets(self) -> list[str]:
        return list(dict.fromkeys(e.snippet for e in self.evidence if e.snippet))


@dataclass(frozen=True)
class Delivery:
    """One outbox row: an alert routed to one notifier."""

    id: str
    alert: Alert
    notifier: str
    attempts: int
    digest: float = 0.0  # digest window in seconds; 0 = send at once


def stable_id(*parts: str) -> str:
    """26-char base32 id from the parts: the same inputs always give the same id."""
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:26].lower()


@dataclass(frozen=True)
class PostgresURL:
    """A ``postgresql://`` database URL. ``str()`` hides the password, so the URL can be
    logged and shown by ``status``; ``url`` is what the driver connects with."""

    url: str = field(repr=False)

    def __str__(self) -> str:
        from urllib.parse import urlsplit, urlunsplit  # noqa: PLC0415 - rarely needed

        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))

    def __repr__(self) -> str:
        return f"PostgresURL({str(self)!r})"


def is_postgres_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))
