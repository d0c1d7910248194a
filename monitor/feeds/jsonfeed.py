"""JSON Feed 1.0 / 1.1 (https://jsonfeed.org) to items; feedparser 6 has no reader for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from monitor.errors import NotAFeed
from monitor.models import Item, ParsedFeed
from monitor.text import clean, html_to_text, safe_url

TITLE_LIMIT = 1000
SUMMARY_LIMIT = 20000


def looks_like_json(body: bytes, content_type: str) -> bool:
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return head == b"{" or "json" in content_type.lower()


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_json_feed(body: bytes, max_entries: int) -> ParsedFeed:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAFeed(f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(doc, dict) or "jsonfeed.org/version" not in _str(doc.get("version")):
        raise NotAFeed("not a feed: JSON without a JSON Feed version")
    raw_items = doc.get("items")
    if not isinstance(raw_items, list):
        raise NotAFeed("not a feed: JSON Feed without an items list")
    items, skipped = [], 0
    for raw in raw_items[:max_entries]:
        if not isinstance(raw, dict):
            skipped += 1
            continue
        url = _str(raw.get("url")) or _str(raw.get("external_url"))
        guid = raw.get("id")
        guid_text = (
            str(guid) if isinstance(guid, str | int) and not isinstance(guid, bool) else None
        )
        content = _str(raw.get("content_html"))
        content_text = (
            html_to_text(content, SUMMARY_LIMIT)
            if content
            else clean(_str(raw.get("content_text")), SUMMARY_LIMIT)
        )
        summary = clean(_str(raw.get("summary")), SUMMARY_LIMIT) or content_text
        item = Item(
            title=clean(_str(raw.get("title")), TITLE_LIMIT),
            summary=summary,
            content=content_text if content_text != summary else "",
            link=safe_url(url),
            guid=guid_text or url or None,
            published=_iso(_str(raw.get("date_published")) or _str(raw.get("date_modified"))),
            author=_author(raw),
            tags=_tags(raw.get("tags")),
        )
        if not (item.guid or item.link or item.title or item.summary):
            skipped += 1
            continue
        items.append(item)
    return ParsedFeed(
        items=items,
        title=clean(_str(doc.get("title")), TITLE_LIMIT),
        skipped=skipped,
        truncated=max(0, len(raw_items) - max_entries),
    )


def _iso(value: str) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _author(raw: dict[str, Any]) -> str:
    """JSON Feed 1.1 ``authors`` (1.0 ``author``): the names, comma-separated."""
    authors = raw.get("authors")
    if not isinstance(authors, list):
        authors = [raw.get("author")]
    names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
    return clean(", ".join(n for n in names if n), 200)


def _tags(raw: Any) -> tuple[str, ...]:
    names = (clean(t, 100) for t in (raw if isinstance(raw, list) else []) if isinstance(t, str))
    return tuple(dict.fromkeys(n for n in names if n))[:20]
